//go:build unix && !linux

package osconfine

import "os/exec"

func startUnconfined(cmd *exec.Cmd) (*Child, error) { return startInNewSession(cmd) }

func unrestrictedTreeSupport() Mechanism {
	return notEnforced("only the command's process group is killed: a descendant that starts a session of its own (setsid) outlives it")
}
