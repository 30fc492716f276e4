//go:build !linux && !darwin && !windows && !openbsd

package osconfine

import (
	"fmt"
	"os/exec"
	"runtime"
)

// Prepared is a policy checked against this host. On this OS nothing can be
// enforced, so Prepare always fails.
type Prepared struct{}

func probe() Support {
	none := notEnforced("no confinement adapter for " + runtime.GOOS)
	return Support{
		OS: runtime.GOOS, Filesystem: none, NetworkDenyAll: none, NetworkAllowList: none,
		UnixSockets: none, Syscalls: none, ProcessTree: none, Privileges: none, HostFileMetadata: none,
		Limits: LimitSupport{none, none, none, none, none, none},
	}
}

// Prepare fails: this OS has no confinement adapter.
func Prepare(p Policy) (*Prepared, error) {
	return nil, fmt.Errorf("%w: no confinement adapter for %s", ErrUnsupported, runtime.GOOS)
}

// Start is never reached: Prepare fails on this OS.
func (p *Prepared) Start(cmd *exec.Cmd) (*Child, error) {
	return nil, fmt.Errorf("%w: no confinement adapter for %s", ErrUnsupported, runtime.GOOS)
}

// Close releases nothing on this OS.
func (p *Prepared) Close() error { return nil }
