package fakenode

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	return &sandboxtest.Remote{FS: nodeFS{n: n, workdir: podWorkdir}, Listen: sandboxtest.ListenHost, Processes: sandboxtest.HostProcesses}
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
