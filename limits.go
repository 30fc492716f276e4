package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults applied to zero Limits fields. Other zero fields mean no limit.
const (
	// DefaultWallTime bounds a command that names no timeout.
	DefaultWallTime = 5 * time.Minute
	// DefaultMaxOutputBytes caps stdout and stderr, each.
	DefaultMaxOutputBytes = 1 << 20
)

// Limits bounds each command of a session. A zero field takes its default:
// WallTime [DefaultWallTime], MaxOutputBytes [DefaultMaxOutputBytes], every
// other field no limit. Sizes say their unit in their names; durations
// travel on the wire as milliseconds.
type Limits struct {
	// WallTime ends a command that runs longer (also the default timeout).
	WallTime time.Duration
	// IdleTimeout suspends a session with no command for that long.
	IdleTimeout time.Duration
	// CPUTime is the CPU time each process may use.
	CPUTime time.Duration
	// CPUCount is how many CPUs the command may run on.
	CPUCount int
	// MemoryMB is the address space each process may map, in MiB.
	MemoryMB uint64
	// MaxProcesses bounds the processes and threads of the command.
	MaxProcesses uint64
	// MaxFileSizeMB is the largest file the command may write, in MiB.
	MaxFileSizeMB uint64
	// MaxOpenFiles bounds the file descriptors of each process.
	MaxOpenFiles uint64
	// MaxOutputBytes caps what is captured of stdout and of stderr.
	MaxOutputBytes int
}

type limitsWire struct {
	WallTimeMS     int64  `json:"wall_time_ms,omitempty"`
	IdleTimeoutMS  int64  `json:"idle_timeout_ms,omitempty"`
	CPUTimeMS      int64  `json:"cpu_time_ms,omitempty"`
	CPUCount       int    `json:"cpu_count,omitempty"`
	MemoryMB       uint64 `json:"memory_mb,omitempty"`
	MaxProcesses   uint64 `json:"max_processes,omitempty"`
	MaxFileSizeMB  uint64 `json:"max_file_size_mb,omitempty"`
	MaxOpenFiles   uint64 `json:"max_open_files,omitempty"`
	MaxOutputBytes int    `json:"max_output_bytes,omitempty"`
}

// MarshalJSON writes durations as milliseconds.
func (l Limits) MarshalJSON() ([]byte, error) {
	return json.Marshal(limitsWire{
		WallTimeMS: l.WallTime.Milliseconds(), IdleTimeoutMS: l.IdleTimeout.Milliseconds(),
		CPUTimeMS: l.CPUTime.Milliseconds(), CPUCount: l.CPUCount, MemoryMB: l.MemoryMB,
		MaxProcesses: l.MaxProcesses, MaxFileSizeMB: l.MaxFileSizeMB, MaxOpenFiles: l.MaxOpenFiles,
		MaxOutputBytes: l.MaxOutputBytes,
	})
}

// UnmarshalJSON reads durations as milliseconds.
func (l *Limits) UnmarshalJSON(b []byte) error {
	var w limitsWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	for _, ms := range []int64{w.WallTimeMS, w.IdleTimeoutMS, w.CPUTimeMS} {
		if ms > maxWireMS || ms < -maxWireMS {
			return fmt.Errorf("duration of %d ms is out of range", ms)
		}
	}
	*l = Limits{
		WallTime: time.Duration(w.WallTimeMS) * time.Millisecond, IdleTimeout: time.Duration(w.IdleTimeoutMS) * time.Millisecond,
		CPUTime: time.Duration(w.CPUTimeMS) * time.Millisecond, CPUCount: w.CPUCount, MemoryMB: w.MemoryMB,
		MaxProcesses: w.MaxProcesses, MaxFileSizeMB: w.MaxFileSizeMB, MaxOpenFiles: w.MaxOpenFiles,
		MaxOutputBytes: w.MaxOutputBytes,
	}
	return nil
}

// withDefaults fills the zero fields that have defaults.
func (l Limits) withDefaults() Limits {
	if l.WallTime <= 0 {
		l.WallTime = DefaultWallTime
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	return l
}

// Largest values a limit can hold. Each is enforced as given up to it;
// past it the mechanisms would wrap or clamp the value (a memory limit of
// 2^44 MiB is 2^64 bytes, which wraps to 0; the kernel's memory counters
// treat 2^63 bytes and more as no limit), so larger ones are refused.
const (
	// MaxLimitMB bounds MemoryMB and MaxFileSizeMB: below 2^63 bytes.
	MaxLimitMB = 1<<43 - 1
	// MaxLimitProcesses bounds MaxProcesses: Linux's PID_MAX_LIMIT, the
	// most that pids.max accepts.
	MaxLimitProcesses = 1 << 22
	// MaxLimitOpenFiles bounds MaxOpenFiles; a host may allow fewer
	// (Linux: fs.nr_open), which Provision then refuses.
	MaxLimitOpenFiles = 1<<31 - 1
)

// validate rejects negative values and values a limit cannot hold.
func (l Limits) validate() error {
	if l.WallTime < 0 || l.IdleTimeout < 0 || l.CPUTime < 0 || l.CPUCount < 0 || l.MaxOutputBytes < 0 {
		return errNegativeLimit
	}
	for _, c := range []struct {
		name     string
		v, limit uint64
	}{
		{"memory_mb", l.MemoryMB, MaxLimitMB},
		{"max_file_size_mb", l.MaxFileSizeMB, MaxLimitMB},
		{"max_processes", l.MaxProcesses, MaxLimitProcesses},
		{"max_open_files", l.MaxOpenFiles, MaxLimitOpenFiles},
	} {
		if c.v > c.limit {
			return fmt.Errorf("%s %d is more than a limit can hold (at most %d)", c.name, c.v, c.limit)
		}
	}
	return nil
}

var errNegativeLimit = errors.New("limits must not be negative")

// maxWireMS is the largest millisecond count a time.Duration holds.
const maxWireMS = math.MaxInt64 / int64(time.Millisecond)
