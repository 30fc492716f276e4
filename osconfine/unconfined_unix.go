//go:build unix

package osconfine

import (
	"os/exec"
	"syscall"
)

// StartUnconfined starts cmd without confinement, for the Unrestricted
// profile: in its own session (no controlling terminal) and process group,
// which is killed when the command exits or Kill is called.
func StartUnconfined(cmd *exec.Cmd) (*Child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := markInheritedCloseOnExec(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return startGroupReaper(cmd), nil
}
