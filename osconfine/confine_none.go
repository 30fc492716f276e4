//go:build !linux && !darwin && !windows

package osconfine

import (
	"fmt"
	"os/exec"
)

// Where no adapter confines a child's filesystem, Probe reports it and
// Prepare fails closed; StartUnconfined still contains the process tree
// where the OS can (a process group on Unix). probe is per OS:
// probe_openbsd.go, probe_other.go.

// prepared is empty: nothing is ever prepared here.
type prepared struct{}

// prepare fails: without filesystem confinement no policy is enforceable.
func prepare(p Policy) (*Prepared, error) {
	return nil, fmt.Errorf("%w: filesystem confinement: %s", ErrUnsupported, Probe().Filesystem.Reason)
}

// start is never reached: prepare fails.
func (p *Prepared) start(cmd *exec.Cmd) (*Child, error) {
	return nil, fmt.Errorf("%w: filesystem confinement: %s", ErrUnsupported, Probe().Filesystem.Reason)
}

// close releases nothing.
func (p *Prepared) close() error { return nil }
