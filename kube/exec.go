package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/google/uuid"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// streamSlack is how much longer than the timeout the stream may last:
// timeout(1) inside the pod ends the command first, and its exit status
// then still arrives; the stream's own deadline is the backstop.
const streamSlack = killGrace + 2*time.Second

// Exit statuses of timeout(1) when it ended the command: 124 after
// SIGTERM, 128+9 when it had to send SIGKILL.
const (
	exitTimedOut = 124
	exitKilled   = 137
)

// Exec runs one command in the session's pod and waits for it. The
// result has the local backend's semantics: output capped at the
// session's MaxOutputBytes with truncation flags, the exit code, TimedOut
// on the timeout (Reason wall_time) or a cancelled context (Reason
// cancelled), and no error with it: an error means the command did not
// run (a context already done starts nothing).
func (b *Backend) Exec(ctx context.Context, id sandbox.SessionID, req sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	const op = "exec"
	if err := req.Validate(); err != nil {
		return nil, newError(op, id, sandbox.ErrInvalidRequest, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, newError(op, id, sandbox.ErrExec, err)
	}
	if req.Terminal != nil {
		return nil, unsupported(op, id, "terminals", "commands run without a terminal (the exec stream carries no TTY)")
	}
	ref, err := b.lookup(ctx, op, id)
	if err != nil {
		return nil, err
	}
	if ref.state == sandbox.StateSuspended {
		// As the local backend does: a command wakes its session.
		if _, err := b.Resume(ctx, id); err != nil {
			return nil, err
		}
		if ref, err = b.lookup(ctx, op, id); err != nil {
			return nil, err
		}
	}
	if ref.pod == nil {
		return nil, newError(op, id, sandbox.ErrLifecycle, errors.New("the session has no pod yet"))
	}
	if ready, why, _ := podReady(ref.pod); !ready {
		return nil, newError(op, id, sandbox.ErrLifecycle, fmt.Errorf("pod %s is not running: %s", ref.pod.Name, why))
	}
	limits := ref.rec.Limits
	timeout := req.Timeout
	if timeout == 0 {
		timeout = limits.WallTime
	}
	if timeout == 0 {
		timeout = sandbox.DefaultWallTime
	}
	maxOut := limits.MaxOutputBytes
	if maxOut <= 0 {
		maxOut = sandbox.DefaultMaxOutputBytes
	}

	// The session's Spec.Env first, the request's over it.
	if len(ref.rec.Env) > 0 {
		env := make(map[string]string, len(ref.rec.Env)+len(req.Env))
		for k, v := range ref.rec.Env {
			env[k] = v
		}
		for k, v := range req.Env {
			env[k] = v
		}
		req.Env = env
	}
	execID := uuid.NewString()
	argv := []string{b.cfg.Shell, "-c", script(&req, execID, timeout, limits)}
	var stdin io.Reader
	if len(req.Stdin) > 0 || req.StdinReader != nil {
		stdin = bytes.NewReader(req.Stdin)
		if req.StdinReader != nil {
			stdin = io.MultiReader(stdin, req.StdinReader)
		}
	}
	ex, err := b.executor(ref.pod, argv, stdin != nil)
	if err != nil {
		return nil, newError(op, id, sandbox.ErrExec, err)
	}
	stdout := &capture{limit: maxOut, tee: req.Stdout}
	stderr := &capture{limit: maxOut, tee: req.Stderr}
	streamCtx, cancel := context.WithTimeout(ctx, timeout+streamSlack)
	defer cancel()

	if b.tracksIdle(ref.rec) {
		// Busy until the stream's deadline and the kill after it, so that
		// no janitor suspends the session under a running command.
		if err := b.markBusy(ctx, ref.name, now().Add(timeout+streamSlack+killTimeout)); err != nil {
			return nil, apiError(op, id, err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
			defer cancel()
			b.markIdle(ctx, ref.name)
		}()
	}
	began := time.Now()
	streamErr := ex.StreamWithContext(streamCtx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	res := &sandbox.ExecResult{Duration: time.Since(began)}
	res.Stdout, res.StdoutTruncated = stdout.result()
	res.Stderr, res.StderrTruncated = stderr.result()

	var exitErr utilexec.ExitError
	switch {
	case streamErr == nil:
	case errors.As(streamErr, &exitErr) && exitErr.Exited():
		res.ExitCode = exitErr.ExitStatus()
	case ctx.Err() != nil:
		b.killInPod(ctx, ref, execID)
		res.ExitCode, res.TimedOut, res.Reason = -1, true, sandbox.ReasonCancelled
		return res, nil
	case streamCtx.Err() != nil:
		b.killInPod(ctx, ref, execID)
		res.ExitCode, res.TimedOut, res.Reason = -1, true, sandbox.ReasonWallTime
		return res, nil
	default:
		// The stream broke: if the session went away meanwhile, say so.
		if _, err := b.lookup(context.WithoutCancel(ctx), op, id); errors.Is(err, sandbox.ErrSessionNotFound) {
			return nil, newError(op, id, sandbox.ErrSessionNotFound, streamErr)
		}
		return nil, newError(op, id, sandbox.ErrExec, streamErr)
	}
	if res.ExitCode == scriptExit && bytes.HasPrefix(res.Stderr, []byte(scriptMarker)) {
		msg := strings.TrimSpace(strings.TrimPrefix(string(res.Stderr), scriptMarker))
		kind := sandbox.ErrExec
		if req.Cwd != "" && strings.HasPrefix(msg, "cannot change to directory") {
			kind = sandbox.ErrInvalidRequest
		}
		return nil, newError(op, id, kind, errors.New(msg))
	}
	if (res.ExitCode == exitTimedOut || res.ExitCode == exitKilled) && res.Duration >= timeout {
		// timeout(1) ended it: a command that exits 124 by itself does
		// so before the timeout.
		res.TimedOut, res.Reason = true, sandbox.ReasonWallTime
	}
	return res, nil
}

// killTimeout bounds the exec that kills a command whose stream was
// closed.
const killTimeout = 10 * time.Second

// killInPod kills, from a second exec, the processes of a command whose
// stream was closed before it ended: closing a stream does not reliably
// kill a process in a container. It is best effort: the command's own
// timeout(1) still ends it if this exec cannot run.
func (b *Backend) killInPod(ctx context.Context, ref *sessionRef, execID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	ex, err := b.executor(ref.pod, []string{b.cfg.Shell, "-c", killScript, "sh", execID}, false)
	if err != nil {
		return
	}
	ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
}
