package sandbox

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with [errors.Is]. Every error the
// package returns wraps exactly one of them inside an [*Error].
var (
	// ErrSessionNotFound: no session has that id (never provisioned, or
	// already terminated).
	ErrSessionNotFound = errors.New("session not found")
	// ErrUnsupported: the backend or this host cannot do what was asked.
	// [*UnsupportedError] carries the backend and the operation.
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalidRequest: the request itself is malformed (bad mount target,
	// invalid env key, NUL byte, cwd outside the session, ...).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrLifecycle: the session is in a state that does not allow the call.
	ErrLifecycle = errors.New("invalid session state")
	// ErrExec: the command could not be started.
	ErrExec = errors.New("exec failed")
	// ErrNetworkPolicy: the network policy is malformed or cannot be applied.
	ErrNetworkPolicy = errors.New("network policy")
	// ErrIO: the backend failed reading or writing its own files.
	ErrIO = errors.New("i/o")
)

// Error is the error every Backend call returns: the operation, the session
// it concerned, the sentinel it belongs to and the cause. Unwrap exposes
// both, so errors.Is works on the sentinel and on the cause (an errno, a
// context error, osconfine.ErrUnsupported).
type Error struct {
	Op      string    // "provision", "exec", ...
	Session SessionID // empty when the call concerned no session
	Kind    error     // one of the Err* sentinels
	Err     error     // the cause; may be nil
}

func (e *Error) Error() string {
	msg := "sandbox: " + e.Op
	if e.Session != "" {
		msg += " " + string(e.Session)
	}
	msg += ": " + e.Kind.Error()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// UnsupportedError says which backend cannot do which operation, and why.
// errors.Is(err, ErrUnsupported) is true for it.
type UnsupportedError struct {
	Backend   string
	Operation string
	Reason    string
}

func (e *UnsupportedError) Error() string {
	msg := fmt.Sprintf("backend %q does not support %s", e.Backend, e.Operation)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// newError builds an *Error of the given kind around cause (which may be
// nil).
func newError(op string, id SessionID, kind, cause error) *Error {
	return &Error{Op: op, Session: id, Kind: kind, Err: cause}
}

// invalid is an ErrInvalidRequest with a message.
func invalid(op string, id SessionID, format string, args ...any) *Error {
	return newError(op, id, ErrInvalidRequest, fmt.Errorf(format, args...))
}
