package sandbox

import "context"

// Exec runs one command in the session and waits for it: Start and Wait
// over the same machinery, with ctx ending the command.
//
// It returns a result when the command ran, however it ended (its own
// exit, a signal, a limit, the timeout, a cancelled ctx, Terminate: the
// result's Reason and TimedOut say which), and an error, with no result,
// when it did not run: an invalid request, an unknown or terminated
// session (ErrSessionNotFound, also for an Exec that races Terminate), a
// policy this host cannot enforce (ErrUnsupported), a ctx already done
// (ErrExec wrapping ctx.Err()), or a start that failed (ErrExec).
func (l *Local) Exec(ctx context.Context, id SessionID, req ExecRequest) (*ExecResult, error) {
	p, err := l.startProcess(ctx, "exec", id, req, ctx.Done(), false)
	if err != nil {
		return nil, err
	}
	<-p.done
	return p.res, nil
}
