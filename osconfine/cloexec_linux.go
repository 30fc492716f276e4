//go:build linux

package osconfine

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// markInheritedCloseOnExec marks every descriptor above 2 close-on-exec, so
// that only stdin, stdout and stderr reach a child. Go opens every fd
// close-on-exec, but a host (or a C library in it) may have leaked one.
func markInheritedCloseOnExec() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("osconfine: marking descriptors close-on-exec: %w", err)
	}
	return nil
}
