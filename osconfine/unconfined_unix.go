//go:build unix

package osconfine

import (
	"os/exec"
	"syscall"
)

// startInNewSession starts cmd as the leader of a new session: it leads its
// own process group (the tree Kill reaches) and has no controlling
// terminal, so it cannot read or inject into the host's terminal; only
// fds 0, 1 and 2 reach it.
func startInNewSession(cmd *exec.Cmd) (*Child, error) {
	attr := &syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		*attr = *cmd.SysProcAttr
	}
	attr.Setsid, attr.Setpgid, attr.Pgid = true, false, 0
	attr.Setctty, attr.Foreground = false, false
	if err := startLeader(cmd, attr); err != nil {
		return nil, err
	}
	return startGroupReaper(cmd), nil
}

// startLeader starts cmd with attr (which starts a new session), its stdin
// as controlling terminal when it is one, and no host descriptor but 0, 1
// and 2 inherited.
func startLeader(cmd *exec.Cmd, attr *syscall.SysProcAttr) error {
	controllingTerminal(cmd, attr)
	cmd.SysProcAttr = attr
	if err := markInheritedCloseOnExec(); err != nil {
		return err
	}
	return cmd.Start()
}
