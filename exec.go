package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

// ExecRequest is one command to run in a session.
type ExecRequest struct {
	// Command is a program name (looked up in the child's PATH) or path.
	Command string   `json:"command"`
	Args    []string `json:"args,omitempty"`
	// Cwd is where the command runs. Relative: under the session's
	// workdir. Absolute: a mount target (or below one) maps to its host
	// source; otherwise it must be a host path inside one of the session's
	// roots. Empty: the workdir.
	Cwd string `json:"cwd,omitempty"`
	// Env is added to the child's base environment (PATH, HOME, TMPDIR,
	// LANG and the mount variables) and may override it. Keys must match
	// [A-Za-z_][A-Za-z0-9_]*. The host's environment never reaches the child.
	Env map[string]string `json:"env,omitempty"`
	// Stdin is fed to the command; StdinReader, when set, is read after it
	// until EOF or until the command has exited and a write fails (a Read
	// that never returns keeps one goroutine until it does).
	Stdin       []byte    `json:"stdin,omitempty"`
	StdinReader io.Reader `json:"-"`
	// Timeout ends the command; zero falls back to the session's wall time.
	// It travels on the wire as milliseconds (timeout_ms).
	Timeout time.Duration `json:"-"`
	// Stdout and Stderr, when set, receive the output as it arrives, in
	// full and in order; the result keeps the first MaxOutputBytes of
	// each. They never hold the command up: output is queued for them
	// while the command runs, and Exec waits for them to take it all
	// until the command's deadline (its timeout, ctx, Terminate). A writer
	// that returns an error, or is still writing at the deadline, is marked
	// failed (ExecResult.StdoutWriterFailed, StderrWriterFailed) and gets
	// nothing more; Exec returns without it, and a Write still in
	// progress then keeps one goroutine until it returns.
	Stdout io.Writer `json:"-"`
	Stderr io.Writer `json:"-"`
	// Terminal, when set, runs the command on a pseudo-terminal of that
	// size, as its controlling terminal: stdout and stderr are then one
	// stream (Stdout, ExecResult.Stdout), input is echoed as a terminal
	// does, and Process.Resize changes the size. The host process holds
	// the terminal's other end; the command reaches no other terminal.
	Terminal *TerminalSize `json:"terminal,omitempty"`
}

// TerminalSize is a terminal's size in character cells.
type TerminalSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// execRequestWire is ExecRequest's JSON form: the timeout in milliseconds.
type execRequestWire struct {
	Command   string            `json:"command"`
	Args      []string          `json:"args,omitempty"`
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Stdin     []byte            `json:"stdin,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
	Terminal  *TerminalSize     `json:"terminal,omitempty"`
}

// MarshalJSON writes the timeout as timeout_ms; the readers and writers
// do not travel.
func (r ExecRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(execRequestWire{Command: r.Command, Args: r.Args, Cwd: r.Cwd, Env: r.Env,
		Stdin: r.Stdin, TimeoutMS: r.Timeout.Milliseconds(), Terminal: r.Terminal})
}

// UnmarshalJSON reads timeout_ms.
func (r *ExecRequest) UnmarshalJSON(b []byte) error {
	var w execRequestWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.TimeoutMS > maxWireMS || w.TimeoutMS < -maxWireMS {
		return fmt.Errorf("timeout of %d ms is out of range", w.TimeoutMS)
	}
	*r = ExecRequest{Command: w.Command, Args: w.Args, Cwd: w.Cwd, Env: w.Env, Stdin: w.Stdin,
		Timeout: time.Duration(w.TimeoutMS) * time.Millisecond, Terminal: w.Terminal}
	return nil
}

// Reason says why a command ended, when it did not simply exit.
type Reason string

const (
	ReasonExited    Reason = ""          // the command exited or was killed by a signal of its own
	ReasonWallTime  Reason = "wall_time" // the timeout or wall-time limit
	ReasonCancelled Reason = "cancelled" // the caller's context was cancelled
	ReasonCPUTime   Reason = "cpu_time"  // SIGXCPU: CPU time limit
	ReasonFileSize  Reason = "file_size" // SIGXFSZ: file size limit
	ReasonMemory    Reason = "memory"    // killed on the memory limit
	// ReasonTerminated: Terminate ended the session while the command ran.
	ReasonTerminated Reason = "terminated"
)

// ExecResult is what a command did.
type ExecResult struct {
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
	ExitCode int    `json:"exit_code"`
	// TimedOut is true when the command was killed on its timeout or a
	// cancelled context (Reason says which). Exec then returns the result
	// and no error, as for any command that ran.
	TimedOut bool `json:"timed_out"`
	// Signal names the signal that ended the command ("killed"), if any.
	Signal string `json:"signal,omitempty"`
	// Reason says which limit ended the command, if one did.
	Reason          Reason        `json:"reason,omitempty"`
	Duration        time.Duration `json:"duration_ns"`
	StdoutTruncated bool          `json:"stdout_truncated"`
	StderrTruncated bool          `json:"stderr_truncated"`
	// StdoutWriterFailed and StderrWriterFailed say that the request's
	// writer failed or was still blocked at the deadline, so it did not
	// receive the whole output (see ExecRequest.Stdout).
	StdoutWriterFailed bool `json:"stdout_writer_failed,omitempty"`
	StderrWriterFailed bool `json:"stderr_writer_failed,omitempty"`
	// Network, for a session with a per-host allow-list, is what the
	// command tried to reach through the filtering proxy while it ran
	// (commands of the session running at the same time share it).
	Network *NetworkSummary `json:"network,omitempty"`
}

// Success reports whether the command exited 0 on its own.
func (r *ExecResult) Success() bool { return r.ExitCode == 0 && !r.TimedOut && r.Signal == "" }

var envKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks what can be checked without a session: a command, no
// negative timeout, a terminal size with rows and columns, no NUL byte,
// and environment keys of the form [A-Za-z_][A-Za-z0-9_]*. Backends call
// it first and answer its error as ErrInvalidRequest.
func (r *ExecRequest) Validate() error {
	if strings.TrimSpace(r.Command) == "" {
		return errors.New("empty command")
	}
	if r.Timeout < 0 {
		return errors.New("negative timeout")
	}
	if t := r.Terminal; t != nil && (t.Rows == 0 || t.Cols == 0) {
		return errors.New("terminal size needs rows and columns")
	}
	hasNUL := func(s string) bool { return strings.IndexByte(s, 0) >= 0 }
	if hasNUL(r.Command) || hasNUL(r.Cwd) {
		return errors.New("NUL byte in command or cwd")
	}
	for i, a := range r.Args {
		if hasNUL(a) {
			return fmt.Errorf("NUL byte in argument %d", i)
		}
	}
	return ValidateEnv(r.Env)
}

// ValidateEnv checks environment keys ([A-Za-z_][A-Za-z0-9_]*) and that no
// value holds a NUL byte, for ExecRequest.Env and Spec.Env.
func ValidateEnv(env map[string]string) error {
	for k, v := range env {
		if !envKeyPattern.MatchString(k) {
			return fmt.Errorf("invalid environment key %q", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("NUL byte in the value of %s", k)
		}
	}
	return nil
}

// childEnv is the base environment plus the request's, sorted by key.
func childEnv(base, extra map[string]string) []string {
	merged := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		merged[k] = v
	}
	for k, v := range extra {
		merged[k] = v
	}
	env := make([]string, 0, len(merged))
	for k, v := range merged {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// lookPath finds command in the child's PATH, not the host's; a command
// with a '/' is taken as a path, relative to the child's directory dir.
func lookPath(command, pathList, dir string) (string, error) {
	return osconfine.LookPath(command, pathList, dir)
}
