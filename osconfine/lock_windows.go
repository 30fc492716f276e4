//go:build windows

package osconfine

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

const noFollow = 0 // os.OpenFile follows no reparse point it is not asked to

// tryLock is LockFileEx, exclusive and immediate: Windows drops it when
// the handle is closed.
func tryLock(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}
