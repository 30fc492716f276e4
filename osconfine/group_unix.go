//go:build unix

package osconfine

import (
	"errors"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"
)

// startGroupReaper returns the Child for cmd, started as the leader of its
// own process group, and starts the goroutine that waits for it.
//
// When the leader exits, the rest of its group is killed before the leader
// is reaped, as on Linux, where the PID namespace dies with its init: left
// over background processes would otherwise keep running unconfined by any
// timeout and hold the output pipes open, so Wait would not return. The
// order matters: while the leader is an unreaped zombie its pid, and so the
// group id, cannot be reused, so the kill cannot reach an unrelated group.
// waitExitNoReap (per OS) observes the exit without reaping.
func startGroupReaper(cmd *exec.Cmd) *Child {
	child := newChild(cmd)
	pid := cmd.Process.Pid
	var (
		mu     sync.Mutex
		reaped bool
	)
	killGroup := func() error {
		mu.Lock()
		defer mu.Unlock()
		if reaped {
			return nil // nothing left we may signal safely
		}
		err := unix.Kill(-pid, unix.SIGKILL)
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return err
	}
	child.kill = killGroup
	go func() {
		if waitExitNoReap(pid) {
			_ = killGroup()
		}
		mu.Lock()
		reaped = true
		mu.Unlock()
		child.finish(cmd.Wait())
	}()
	return child
}
