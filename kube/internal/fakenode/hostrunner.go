package fakenode

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// HostRunner runs commands as plain processes of this host in Dir, with a
// minimal environment: enough to test the exec protocol and the backend's
// in-pod script, nothing about isolation.
type HostRunner struct {
	Dir string
}

func (h HostRunner) Run(ctx context.Context, namespace, pod string, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = h.Dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + h.Dir, "LANG=C.UTF-8"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	// A container runtime does not kill an exec'd process when its
	// stream closes, and neither does this runner: the backend must.
	// A stdin the command never reads must not hold Wait forever.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}
