//go:build unix && !linux

package osconfine

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// markInheritedCloseOnExec marks every descriptor above 2 close-on-exec, so
// that only stdin, stdout and stderr reach a child. Go opens every fd
// close-on-exec, but a host (or a C library in it) may have leaked one.
// Without close_range, the open descriptors are listed from /dev/fd.
func markInheritedCloseOnExec() error {
	entries, err := os.ReadDir("/dev/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// The directory's own descriptor is gone by now: EBADF is fine.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return err
		}
	}
	return nil
}
