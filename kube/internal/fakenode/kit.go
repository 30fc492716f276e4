package fakenode

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-sandbox/sandbox/sandboxtest"
)

// Remote is the conformance kit's view of this node: files, a loopback
// server and processes where the pods' commands run (this host).
//
// The kit gives the node's FS paths of the node (the sources of hostPath
// volumes, its outside files) and paths inside a pod that no volume source
// holds (the workdir, /tmp, the emptyDirs), naming such files with a fresh
// token: the one live pod holding such a file is found by looking in each
// pod (as one would with kubectl cp across pods), through its local
// session, whose guest paths are the pod's. Other paths are the node's
// own.
func (n *Node) Remote() *sandboxtest.Remote {
	return &sandboxtest.Remote{FS: nodeFS{n: n}, Listen: sandboxtest.ListenHost, Processes: sandboxtest.HostProcesses}
}

type nodeFS struct {
	n *Node
}

// resolve maps a path inside a pod to the node path of the pod that has
// it; a path no pod has is the node's own.
func (f nodeFS) resolve(name string) string {
	for _, s := range f.n.sessions() {
		if len(s.Dirs) == 0 {
			continue // the host's view: commands use node paths
		}
		if p, err := s.HostPath(name); err == nil {
			if _, err := os.Lstat(p); err == nil {
				return p
			}
		}
	}
	return name
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
