//go:build windows

package osconfine

import (
	"errors"
	"os"
	"os/exec"
)

// StartUnconfined starts cmd without confinement, for the Unrestricted
// profile. Kill ends the process itself; Windows has no process group to
// kill without a job object.
func StartUnconfined(cmd *exec.Cmd) (*Child, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	child := newChild(cmd)
	child.kill = func() error {
		err := cmd.Process.Kill()
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return err
	}
	go func() { child.finish(cmd.Wait()) }()
	return child, nil
}
