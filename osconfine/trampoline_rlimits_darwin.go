package osconfine

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The rlimit trampoline's parts: finding the host executable and encoding,
// decoding and applying the rlimits. trampoline_darwin.go has its init.

func trampolinePath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("host executable: %w", err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return "", fmt.Errorf("host executable: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("host executable %s is not an executable file", exe)
	}
	return exe, nil
}

// encodeRlimits writes the limits the trampoline applies as
// "name=value,...", values in the unit setrlimit takes. Memory has no
// entry: macOS enforces neither RLIMIT_DATA nor RLIMIT_AS (Support says so).
func encodeRlimits(l Limits) string {
	var parts []string
	add := func(name string, v uint64) {
		if v > 0 {
			parts = append(parts, name+"="+strconv.FormatUint(v, 10))
		}
	}
	if l.CPUTime > 0 {
		add("cpu", uint64((l.CPUTime+time.Second-1)/time.Second))
	}
	add("fsize", l.MaxFileSize)
	add("nofile", l.MaxOpenFiles)
	add("nproc", l.MaxProcesses)
	return strings.Join(parts, ",")
}

// rlimitResource maps a limit's name in the encoding to its resource.
func rlimitResource(name string) (int, bool) {
	switch name {
	case "cpu":
		return unix.RLIMIT_CPU, true
	case "fsize":
		return unix.RLIMIT_FSIZE, true
	case "nofile":
		return unix.RLIMIT_NOFILE, true
	case "nproc":
		return unix.RLIMIT_NPROC, true
	}
	return 0, false
}

// applyRlimits sets each limit in spec as both the soft and the hard limit,
// so the command cannot raise it again. A request above the current hard
// limit gets the hard limit: the result is never looser than asked.
func applyRlimits(spec string) error {
	for part := range strings.SplitSeq(spec, ",") {
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		res, known := rlimitResource(name)
		v, err := strconv.ParseUint(val, 10, 64)
		if !ok || !known || err != nil {
			return fmt.Errorf("bad limit %q", part)
		}
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(res, &cur); err != nil {
			return fmt.Errorf("getrlimit %s: %w", name, err)
		}
		v = clampRlimit(res, min(v, cur.Max, math.MaxInt64))
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("setrlimit %s=%d: %w", name, v, err)
		}
	}
	return nil
}
