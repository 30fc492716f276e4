//go:build linux

package osconfine

import (
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

type netns struct {
	mu sync.Mutex
	fd int // -1 once closed
}

func newNetns() (*netns, error) {
	if !probeHost().root {
		return nil, fmt.Errorf("%w: the commands' network namespace cannot be shared with the proxy: an unprivileged host makes one per command, inside the command's own user namespace, where the host cannot listen", ErrUnsupported)
	}
	fd, err := newEmptyNetns()
	if err != nil {
		return nil, fmt.Errorf("osconfine: creating a network namespace: %w", err)
	}
	if err := onNetnsThread(fd, bringLoopbackUp); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("osconfine: bringing up loopback: %w", err)
	}
	return &netns{fd: fd}, nil
}

// onNetnsThread runs f on a thread that has joined the namespace fd; the
// thread is destroyed afterwards, so no other goroutine ever runs in it.
func onNetnsThread(fd int, f func() error) error {
	done := make(chan error, 1)
	onDisposableThread(func() {
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		done <- f()
	})
	return <-done
}

// bringLoopbackUp sets IFF_UP on "lo" of the calling thread's namespace.
func bringLoopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
}

func (n *netns) listen() (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fd < 0 {
		return nil, ErrClosed
	}
	var ln net.Listener
	err := onNetnsThread(n.fd, func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	})
	return ln, err
}

// dupFD returns a descriptor of the namespace for a Prepared to join.
func (n *netns) dupFD() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fd < 0 {
		return -1, ErrClosed
	}
	return unix.FcntlInt(uintptr(n.fd), unix.F_DUPFD_CLOEXEC, 0)
}

func (n *netns) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fd < 0 {
		return nil
	}
	err := unix.Close(n.fd)
	n.fd = -1
	return err
}
