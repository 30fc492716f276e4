package kube

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-sandbox/sandbox"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// backendName is what Name returns and what UnsupportedErrors carry.
const backendName = "kube"

func newError(op string, id sandbox.SessionID, kind, cause error) *sandbox.Error {
	return &sandbox.Error{Op: op, Session: id, Kind: kind, Err: cause}
}

func invalid(op string, id sandbox.SessionID, format string, args ...any) *sandbox.Error {
	return newError(op, id, sandbox.ErrInvalidRequest, fmt.Errorf(format, args...))
}

func unsupported(op string, id sandbox.SessionID, what, reason string) *sandbox.Error {
	return newError(op, id, sandbox.ErrUnsupported, &sandbox.UnsupportedError{Backend: backendName, Operation: what, Reason: reason})
}

func notFound(op string, id sandbox.SessionID) *sandbox.Error {
	return newError(op, id, sandbox.ErrSessionNotFound, nil)
}

// apiError classifies an error of the API server: a missing object is
// ErrSessionNotFound, a cancelled context ErrLifecycle, the rest ErrIO
// (the backend could not read or write its own objects).
func apiError(op string, id sandbox.SessionID, err error) *sandbox.Error {
	switch {
	case apierrors.IsNotFound(err):
		// The object's name says nothing the caller asked about.
		return notFound(op, id)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return newError(op, id, sandbox.ErrLifecycle, err)
	}
	return newError(op, id, sandbox.ErrIO, err)
}
