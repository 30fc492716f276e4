//go:build !unix && !windows

package osconfine

import (
	"os"
	"os/exec"
)

// startUnconfined starts cmd; Kill ends the process.
func startUnconfined(cmd *exec.Cmd) (*Child, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	child := newChild(cmd)
	go func() { child.finish(cmd.Wait()) }()
	return child, nil
}

// exitSignal reports no signal on this OS.
func exitSignal(st *os.ProcessState) (signal, limit string) { return "", "" }

func unrestrictedTreeSupport() Mechanism {
	return notEnforced("no process tree containment on this OS: only the command itself is killed")
}
