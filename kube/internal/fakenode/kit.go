package fakenode

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/go-sandbox/sandbox/sandboxtest"
)

// Remote is the conformance kit's view of this node: files, a loopback
// server and processes where the pods' commands run (this host).
//
// Paths under podWorkdir are paths inside a pod; the kit names them with a
// fresh token in the file name, so the one live pod holding such a file is
// found by looking in each pod's workdir (as one would with kubectl cp
// across pods). Other paths are the node's own.
func (n *Node) Remote(podWorkdir string) *sandboxtest.Remote {
	return &sandboxtest.Remote{FS: nodeFS{n: n, workdir: podWorkdir}, Listen: listenLoopback, Processes: countProcesses}
}

type nodeFS struct {
	n       *Node
	workdir string
}

// resolve maps a pod path to the node path of the pod that has it.
func (f nodeFS) resolve(name string) string {
	rest, ok := strings.CutPrefix(name, f.workdir+"/")
	if !ok {
		return name
	}
	for _, w := range f.n.Workdirs() {
		p := filepath.Join(w, rest)
		if _, err := os.Lstat(p); err == nil {
			return p
		}
	}
	return filepath.Join("/nonexistent-pod-path", rest)
}

func (f nodeFS) MkdirTemp(dir, pattern string) (string, error) {
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	// Open to every user, so that a refusal is the sandbox's doing and
	// not the mode's (the local sessions run as an unprivileged user).
	if err := os.Chmod(d, 0o777); err != nil {
		os.Remove(d)
		return "", err
	}
	return filepath.EvalSymlinks(d)
}

func (f nodeFS) WriteFile(name string, data []byte) error {
	if err := os.WriteFile(name, data, 0o666); err != nil {
		return err
	}
	return os.Chmod(name, 0o666)
}

func (f nodeFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(f.resolve(name)) }

func (f nodeFS) Exists(name string) (bool, error) {
	_, err := os.Lstat(f.resolve(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (f nodeFS) RemoveAll(name string) error { return os.RemoveAll(name) }

// loopback is a TCP server on 127.0.0.1 answering each connection with a
// banner.
type loopback struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
	done     chan struct{}
}

func listenLoopback(ctx context.Context, banner string) (sandboxtest.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &loopback{ln: ln, done: make(chan struct{})}
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

func (l *loopback) Address() (string, string) {
	a := l.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), strconv.Itoa(a.Port)
}

func (l *loopback) Accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

func (l *loopback) Close() error {
	err := l.ln.Close()
	<-l.done
	return err
}

// countProcesses counts this host's processes whose command line holds
// marker: the pods' commands are processes of this host.
func countProcesses(ctx context.Context, marker string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self, m, n := os.Getpid(), []byte(marker), 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, m) {
			n++
		}
	}
	return n, nil
}
