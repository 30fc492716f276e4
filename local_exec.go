package sandbox

import (
	"context"
	"errors"
	"os/exec"

	"github.com/go-sandbox/sandbox/osconfine"
)

// Exec runs one command in the session and waits for it.
//
// It returns a result when the command ran, however it ended (its own
// exit, a signal, a limit, the timeout, a cancelled ctx, Terminate: the
// result's Reason and TimedOut say which), and an error, with no result,
// when it did not run: an invalid request, an unknown or terminated
// session (ErrSessionNotFound, also for an Exec that races Terminate), a
// policy this host cannot enforce (ErrUnsupported), a ctx already done
// (ErrExec wrapping ctx.Err()), or a start that failed (ErrExec).
func (l *Local) Exec(ctx context.Context, id SessionID, req ExecRequest) (*ExecResult, error) {
	const op = "exec"
	if err := req.validate(); err != nil {
		return nil, newError(op, id, ErrInvalidRequest, err)
	}
	s, err := l.session(op, id)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, newError(op, id, ErrExec, err)
	}
	plan, err := s.beginExec(op, req.Cwd, l.cfg.Path)
	if err != nil {
		return nil, err
	}
	defer s.endExec()

	env := childEnv(plan.env, req.Env)
	pathList := plan.env["PATH"]
	if v, ok := req.Env["PATH"]; ok {
		pathList = v
	}
	bin, err := lookPath(req.Command, pathList, plan.dir)
	if err != nil {
		return nil, newError(op, id, ErrExec, err)
	}
	timeout := req.Timeout
	if timeout == 0 {
		timeout = plan.limits.WallTime
	}
	run := &commandRun{
		cmd:     &exec.Cmd{Path: bin, Args: append([]string{req.Command}, req.Args...), Env: env, Dir: plan.dir},
		req:     &req,
		timeout: timeout,
		limits:  plan.limits,
		stop:    s.stop,
		start: func(c *exec.Cmd) (*osconfine.Child, error) {
			return s.startTracked(plan.prep, c)
		},
	}
	res, err := run.run(ctx)
	if err != nil {
		kind := ErrExec
		switch {
		case errors.Is(err, errTerminated):
			kind, err = ErrSessionNotFound, nil
		case errors.Is(err, osconfine.ErrUnsupported):
			kind = ErrUnsupported
		}
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, newError(op, id, kind, err)
	}
	return res, nil
}
