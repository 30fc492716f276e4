package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
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
	// full; the result keeps the first MaxOutputBytes of each. A writer
	// that fails stops receiving; the command goes on and is drained.
	Stdout io.Writer `json:"-"`
	Stderr io.Writer `json:"-"`
}

// execRequestWire is ExecRequest's JSON form: the timeout in milliseconds.
type execRequestWire struct {
	Command   string            `json:"command"`
	Args      []string          `json:"args,omitempty"`
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Stdin     []byte            `json:"stdin,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
}

// MarshalJSON writes the timeout as timeout_ms; the readers and writers
// do not travel.
func (r ExecRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(execRequestWire{Command: r.Command, Args: r.Args, Cwd: r.Cwd, Env: r.Env,
		Stdin: r.Stdin, TimeoutMS: r.Timeout.Milliseconds()})
}

// UnmarshalJSON reads timeout_ms.
func (r *ExecRequest) UnmarshalJSON(b []byte) error {
	var w execRequestWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = ExecRequest{Command: w.Command, Args: w.Args, Cwd: w.Cwd, Env: w.Env, Stdin: w.Stdin,
		Timeout: time.Duration(w.TimeoutMS) * time.Millisecond}
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
)

// ExecResult is what a command did.
type ExecResult struct {
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
	ExitCode int    `json:"exit_code"`
	// TimedOut is true when the command was killed on its timeout or a
	// cancelled context.
	TimedOut bool `json:"timed_out"`
	// Signal names the signal that ended the command ("killed"), if any.
	Signal string `json:"signal,omitempty"`
	// Reason says which limit ended the command, if one did.
	Reason          Reason        `json:"reason,omitempty"`
	Duration        time.Duration `json:"duration_ns"`
	StdoutTruncated bool          `json:"stdout_truncated"`
	StderrTruncated bool          `json:"stderr_truncated"`
}

// Success reports whether the command exited 0 on its own.
func (r *ExecResult) Success() bool { return r.ExitCode == 0 && !r.TimedOut && r.Signal == "" }

var envKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validate checks what can be checked without the session.
func (r *ExecRequest) validate() error {
	if strings.TrimSpace(r.Command) == "" {
		return errors.New("empty command")
	}
	if r.Timeout < 0 {
		return errors.New("negative timeout")
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
	for k, v := range r.Env {
		if !envKeyPattern.MatchString(k) {
			return fmt.Errorf("invalid environment key %q", k)
		}
		if hasNUL(v) {
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
	if strings.Contains(command, "/") {
		if !filepath.IsAbs(command) {
			command = filepath.Join(dir, command)
		}
		if _, err := os.Stat(command); err != nil {
			return "", err
		}
		return command, nil
	}
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, command)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH %q: %w", command, pathList, exec.ErrNotFound)
}

// capture keeps the first limit bytes written to it, forwards every byte
// to tee, and remembers whether it dropped any.
type capture struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	truncated bool
	tee       io.Writer
	teeErr    error
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.limit - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		c.buf.Write(p[:max(room, 0)])
		c.truncated = true
	}
	if c.tee != nil && c.teeErr == nil {
		// A failing caller writer must not stop the draining of the
		// child: remember the error and stop forwarding.
		_, c.teeErr = c.tee.Write(p)
	}
	return len(p), nil
}

// copyBuffers are reused across execs: two 32 KiB buffers per command
// were most of the memory an exec allocated.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyPooled copies src to dst through a pooled buffer.
func copyPooled(dst io.Writer, src io.Reader) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// Hide the source's WriteTo: *os.File has one that would copy through
	// a buffer of its own.
	_, _ = io.CopyBuffer(dst, struct{ io.Reader }{src}, *buf)
}

// drainBound is how long Exec keeps reading output after the command has
// exited, for descendants that still hold the pipes. Under a PID namespace
// they are already dead and the pipes close at once.
const drainBound = 500 * time.Millisecond

// startFunc starts a prepared command: confined, or not.
type startFunc func(*exec.Cmd) (*osconfine.Child, error)

// runCommand starts cmd with start, feeds stdin, captures the output and
// waits, killing the tree on timeout or cancellation. It never returns
// before the output pipes are closed.
func runCommand(ctx context.Context, start startFunc, cmd *exec.Cmd, req *ExecRequest, timeout time.Duration, maxOutput int, cpuLimit time.Duration, fileSizeLimit bool) (*ExecResult, error) {
	res := &ExecResult{}
	stdout := &capture{limit: maxOutput, tee: req.Stdout}
	stderr := &capture{limit: maxOutput, tee: req.Stderr}

	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	var inR, inW *os.File
	hasStdin := len(req.Stdin) > 0 || req.StdinReader != nil
	if hasStdin {
		if inR, inW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return nil, err
		}
		cmd.Stdin = inR
	}
	cmd.Stdout, cmd.Stderr = outW, errW

	began := time.Now()
	child, err := start(cmd)
	// The child holds its own copies now; ours must go, or EOF never comes.
	outW.Close()
	errW.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return nil, err
	}

	var drained sync.WaitGroup
	drained.Add(2)
	go func() { defer drained.Done(); copyPooled(stdout, outR) }()
	go func() { defer drained.Done(); copyPooled(stderr, errR) }()
	if inW != nil {
		go func() {
			defer inW.Close()
			if _, err := inW.Write(req.Stdin); err != nil {
				return
			}
			if req.StdinReader != nil {
				io.Copy(inW, req.StdinReader)
			}
		}()
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-child.Done():
	case <-timer.C:
		res.TimedOut, res.Reason = true, ReasonWallTime
		child.Kill()
	case <-ctx.Done():
		res.TimedOut, res.Reason = true, ReasonCancelled
		child.Kill()
	}
	child.Wait() // its error is the exit status, read from ProcessState below
	res.Duration = time.Since(began)

	drainDone := make(chan struct{})
	go func() { drained.Wait(); close(drainDone) }()
	select {
	case <-drainDone:
	case <-time.After(drainBound):
		// A descendant the kill could not reach holds the pipes: stop
		// reading so that Exec returns.
		outR.Close()
		errR.Close()
		<-drainDone
	}
	outR.Close()
	errR.Close()

	res.Stdout, res.StdoutTruncated = stdout.buf.Bytes(), stdout.truncated
	res.Stderr, res.StderrTruncated = stderr.buf.Bytes(), stderr.truncated
	if res.Stdout == nil {
		res.Stdout = []byte{}
	}
	if res.Stderr == nil {
		res.Stderr = []byte{}
	}
	describeExit(res, cmd.ProcessState)
	if res.Reason == ReasonExited && fileSizeLimit && res.ExitCode == shellExitXFSZ {
		// A shell whose child was killed by SIGXFSZ exits 128+SIGXFSZ.
		res.Reason = ReasonFileSize
	}
	if res.Reason == ReasonExited && child.MemoryLimitHit() {
		res.Reason = ReasonMemory
	}
	if res.Reason == ReasonExited && res.Signal != "" && cpuLimit > 0 && cpuUsed(cmd.ProcessState) >= cpuLimit.Round(time.Second)-cpuSlack {
		// Killed at the hard CPU limit (a command that is PID 1 of its
		// namespace ignores SIGXCPU, so SIGKILL ends it).
		res.Reason = ReasonCPUTime
	}
	if res.Reason == ReasonCancelled {
		return res, ctx.Err()
	}
	return res, nil
}

// describeExit fills the exit code, the signal and the reason from the
// process state.
func describeExit(res *ExecResult, st *os.ProcessState) {
	if st == nil {
		res.ExitCode = -1
		return
	}
	res.ExitCode = st.ExitCode()
	if sig, limit := osconfine.ExitSignal(st); sig != "" {
		res.Signal = sig
		if res.Reason == ReasonExited {
			res.Reason = Reason(limit)
		}
	}
}

// shellExitXFSZ is the status a POSIX shell exits with when its last child
// was killed by SIGXFSZ (128 + 25 on Linux and the BSDs).
const shellExitXFSZ = 128 + 25

// cpuSlack absorbs the difference between the scheduler's accounting,
// which fires RLIMIT_CPU, and the rusage wait reports.
const cpuSlack = 100 * time.Millisecond

// cpuUsed is the CPU time the process and its reaped children used.
func cpuUsed(st *os.ProcessState) time.Duration {
	if st == nil {
		return 0
	}
	return st.UserTime() + st.SystemTime()
}
