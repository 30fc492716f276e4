package sandbox

import (
	"context"
	"io"
	"os"
	"time"
)

// ProcessID names a process started in a session; it is unique within the
// session for the session's life.
type ProcessID string

// ProcessInfo describes a process of a session.
type ProcessInfo struct {
	ID ProcessID `json:"id"`
	// PID is the process id the backend knows the command by. For the
	// local backend it is the host's pid (inside its own PID namespace the
	// command sees itself as 1).
	PID       int       `json:"pid"`
	Command   string    `json:"command"`
	Args      []string  `json:"args,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Terminal  bool      `json:"terminal,omitempty"`
}

// Process is a handle on a command started in a session. A process is
// ended by its own exit, a signal, its timeout (ExecRequest.Timeout, else
// the session's wall time), or Terminate (and the death of the host
// process); it never outlives its session. Its output goes to the
// request's Stdout and Stderr writers as it arrives, and its result keeps
// the first MaxOutputBytes of each, as Exec does. Handles are safe for
// concurrent use.
type Process interface {
	// Info describes the process.
	Info() ProcessInfo
	// Stdin is the command's input: closing it sends end-of-file (with a
	// terminal, the end-of-file character). It is nil when the request
	// gave Stdin or StdinReader, which then feed the command instead.
	Stdin() io.WriteCloser
	// Done is closed when the process has ended and its result is ready.
	Done() <-chan struct{}
	// Wait returns the result once the process has ended, the same
	// ExecResult Exec returns (reasons, caps, truncation flags). A ctx
	// that ends first stops the waiting, not the process. Wait may be
	// called any number of times.
	Wait(ctx context.Context) (*ExecResult, error)
	// Signal sends sig to the command. On Linux the command is init of
	// its PID namespace: a signal it has no handler for is ignored, except
	// SIGKILL. A process that has ended answers ErrLifecycle.
	Signal(sig os.Signal) error
	// Resize changes the size of the process's terminal; the command gets
	// SIGWINCH. Without a terminal it answers ErrInvalidRequest.
	Resize(size TerminalSize) error
}

// ProcessBackend is a Backend that starts commands and hands back handles,
// for processes that live across steps of an agent (a dev server, a REPL,
// a program that needs a terminal). The local backend is one;
// Capabilities().Processes says whether a backend is.
type ProcessBackend interface {
	Backend
	// Start starts a command in the session and returns its handle
	// without waiting for it. ctx bounds the start only.
	Start(ctx context.Context, id SessionID, req ExecRequest) (Process, error)
	// Processes lists the session's running processes, those of Exec
	// included.
	Processes(ctx context.Context, id SessionID) ([]ProcessInfo, error)
	// Process finds a running process of the session again by its id.
	Process(ctx context.Context, id SessionID, pid ProcessID) (Process, error)
}
