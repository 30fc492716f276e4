//go:build unix

package osconfine

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// NoFollow is the open flag that refuses a symbolic link as the last
// path element.
const NoFollow = unix.O_NOFOLLOW

// TryLock takes an exclusive lock on f without waiting; false means
// another open file description holds it. The kernel drops the lock when
// every descriptor of f is closed, also when the process dies: the lock
// says "its owner lives" with no pid to guess from.
func TryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
