//go:build windows

package osconfine

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// NoFollow is zero on Windows: os.OpenFile does not follow reparse points
// it is not asked to.
const NoFollow = 0

// TryLock takes an exclusive lock on f without waiting; false means
// another handle holds it. Windows drops the lock when the handle is
// closed, also when the process dies.
func TryLock(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}
