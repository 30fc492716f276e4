//go:build darwin || openbsd || freebsd || netbsd || dragonfly

package osconfine

import (
	"errors"

	"golang.org/x/sys/unix"
)

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
