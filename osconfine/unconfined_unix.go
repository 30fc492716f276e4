//go:build unix

package osconfine

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// StartUnconfined starts cmd without confinement, for the Unrestricted
// profile: in its own session (no controlling terminal), so that Kill can
// still end its process group.
func StartUnconfined(cmd *exec.Cmd) (*Child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	child := newChild(cmd)
	child.kill = func() error {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err := cmd.Process.Kill()
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return err
	}
	go func() { child.finish(cmd.Wait()) }()
	return child, nil
}
