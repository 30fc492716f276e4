//go:build !linux

package osconfine

import (
	"fmt"
	"net"
)

type netns struct{}

func newNetns() (*netns, error) {
	return nil, fmt.Errorf("%w: network namespaces exist only on Linux", ErrUnsupported)
}

func (*netns) listen() (net.Listener, error) { return nil, ErrUnsupported }
func (*netns) close() error                  { return nil }
