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
// The exit is observed without reaping through kqueue (EVFILT_PROC,
// NOTE_EXIT).
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

// waitExitNoReap blocks until the process pid (a child of ours, not yet
// reaped) has exited, leaving it a zombie. It returns false when kqueue is
// unavailable; the caller then reaps without sweeping the group.
func waitExitNoReap(pid int) bool {
	kq, err := unix.Kqueue()
	if err != nil {
		return false
	}
	defer unix.Close(kq)
	var ev unix.Kevent_t
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	out := make([]unix.Kevent_t, 1)
	for {
		n, err := unix.Kevent(kq, []unix.Kevent_t{ev}, out, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ESRCH):
			// Already a zombie: our child, unreaped, so it has exited.
			return true
		case err != nil:
			return false
		case n == 1 && out[0].Flags&unix.EV_ERROR != 0:
			return out[0].Data == int64(unix.ESRCH)
		case n == 1:
			return true
		}
	}
}
