//go:build linux

package osconfine

import (
	"errors"

	"golang.org/x/sys/unix"
)

// waitExitNoReap blocks until the process pid (a child of ours, not yet
// reaped) has exited, leaving it a zombie (waitid with WNOWAIT). It returns
// false when that fails; the caller then reaps without sweeping the group.
func waitExitNoReap(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil
	}
}
