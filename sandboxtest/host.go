package sandboxtest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// hostFS is FS for this host.
type hostFS struct{}

func (hostFS) MkdirTemp(dir, pattern string) (string, error) {
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	// Readable, searchable and writable by everyone, so that a refusal
	// is the sandbox's doing and not the file mode's, whatever identity
	// the commands run as (a root host runs them unprivileged).
	if err := os.Chmod(d, 0o777); err != nil {
		os.Remove(d)
		return "", err
	}
	// Symlinks resolved, as backends compare real paths.
	return filepath.EvalSymlinks(d)
}

func (hostFS) WriteFile(name string, data []byte) error {
	if err := os.WriteFile(name, data, 0o666); err != nil {
		return err
	}
	return os.Chmod(name, 0o666) // whatever the umask
}

func (hostFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (hostFS) Exists(name string) (bool, error) {
	_, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (hostFS) RemoveAll(name string) error { return os.RemoveAll(name) }

// hostListener is a loopback TCP server on 127.0.0.1:0.
type hostListener struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
	done     chan struct{}
}

// ListenHost is the Listen hook of a backend whose commands reach this
// host's loopback: a TCP server on 127.0.0.1:0 that answers each
// connection with banner and a newline, and counts them. Remote backends
// whose commands run on this machine (a test double of a cluster node)
// use it in their Options.Remote.
func ListenHost(ctx context.Context, banner string) (Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &hostListener{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.accepted++
			l.mu.Unlock()
			c.Write([]byte(banner + "\n"))
			c.Close()
		}
	}()
	return l, nil
}

func (l *hostListener) Address() (string, string) {
	a := l.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), strconv.Itoa(a.Port)
}

func (l *hostListener) Accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

func (l *hostListener) Close() error {
	err := l.ln.Close()
	<-l.done
	return err
}

// HostProcesses is the Processes hook for commands that run on this host:
// it counts the processes whose command line contains marker, by reading
// /proc/*/cmdline. Where there is no /proc it reports an error, and the
// cases judge by the backend's answers only.
func HostProcesses(ctx context.Context, marker string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		return 0, err
	}
	self := os.Getpid()
	m := []byte(marker)
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // exited, or hidden from us
		}
		if bytes.Contains(b, m) {
			n++
		}
	}
	return n, nil
}
