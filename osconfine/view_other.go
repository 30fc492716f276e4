//go:build !linux

package osconfine

import (
	"fmt"
	"net"
	"runtime"
)

// Views need Linux namespaces.
type view struct{}

func viewSupport() Mechanism {
	return notEnforced("a session view needs Linux namespaces; " + runtime.GOOS + " has none")
}

func startView(ViewSpec) (*View, error) {
	return nil, fmt.Errorf("%w: %s", ErrUnsupported, viewSupport().Reason)
}

func (v *View) prepare(Policy) (*Prepared, error) { return nil, ErrViewEnded }
func (v *View) attach(ViewMount) error            { return ErrViewEnded }
func (v *View) listen() (net.Listener, error)     { return nil, ErrViewEnded }
func (v *View) close() error                      { return nil }
func (v *View) pid() int                          { return 0 }

func probeView() Support {
	s := Probe()
	s.View = viewSupport()
	return s
}
