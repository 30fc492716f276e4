//go:build linux

package osconfine

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// checkLimitRange refuses a limit this host would not set as given. A
// child inherits this process's hard rlimits, and raising one needs
// CAP_SYS_RESOURCE, so a value above the hard limit would be cut down to
// it at the exec stop: a stricter limit than the caller asked for, which
// the caller must hear about instead.
func checkLimitRange(l Limits) error {
	cpuSeconds := uint64((l.CPUTime + 999_999_999) / 1_000_000_000)
	for _, c := range []struct {
		resource int
		name     string
		v        uint64
	}{
		{unix.RLIMIT_AS, "memory (RLIMIT_AS)", l.MemoryBytes},
		{unix.RLIMIT_CPU, "CPU time (RLIMIT_CPU, seconds)", cpuSeconds},
		{unix.RLIMIT_FSIZE, "file size (RLIMIT_FSIZE)", l.MaxFileSize},
		{unix.RLIMIT_NOFILE, "open files (RLIMIT_NOFILE)", l.MaxOpenFiles},
	} {
		if c.v == 0 {
			continue
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(c.resource, &cur); err != nil {
			continue
		}
		if cur.Max != unix.RLIM_INFINITY && c.v > cur.Max {
			return fmt.Errorf("%w: %s limit %d is above this process's hard limit %d", ErrLimitRange, c.name, c.v, cur.Max)
		}
	}
	return nil
}
