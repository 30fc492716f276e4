package sandbox

import (
	"encoding/json"
	"errors"
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

// validate rejects negative values.
func (l Limits) validate() error {
	if l.WallTime < 0 || l.IdleTimeout < 0 || l.CPUTime < 0 || l.CPUCount < 0 || l.MaxOutputBytes < 0 {
		return errNegativeLimit
	}
	return nil
}

var errNegativeLimit = errors.New("limits must not be negative")
