//go:build linux

package osconfine

import (
	"fmt"
	"strconv"
)

// checkLimitRange refuses limits this host cannot set as given: an
// RLIMIT_NOFILE above fs.nr_open fails with EPERM at the exec stop.
func checkLimitRange(l Limits) error {
	if l.MaxOpenFiles == 0 {
		return nil
	}
	ceiling, err := strconv.ParseUint(readSysctl("/proc/sys/fs/nr_open"), 10, 64)
	if err == nil && l.MaxOpenFiles > ceiling {
		return fmt.Errorf("%w: max open files %d is above fs.nr_open (%d)", ErrLimitRange, l.MaxOpenFiles, ceiling)
	}
	return nil
}
