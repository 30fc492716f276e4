package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

var _ ProcessBackend = (*Local)(nil)

// localProcess is a command of a local session, from its start to its
// result.
type localProcess struct {
	info    ProcessInfo
	session *localSession
	run     *commandRun
	done    chan struct{}
	res     *ExecResult
}

func (p *localProcess) Info() ProcessInfo {
	info := p.info
	info.Args = slices.Clone(info.Args)
	return info
}

func (p *localProcess) Stdin() io.WriteCloser { return p.run.stdinW }
func (p *localProcess) Done() <-chan struct{} { return p.done }

func (p *localProcess) Wait(ctx context.Context) (*ExecResult, error) {
	select {
	case <-p.done:
		return p.res, nil
	case <-ctx.Done():
		return nil, newError("wait", p.session.id, ErrExec, ctx.Err())
	}
}

func (p *localProcess) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return newError("signal", p.session.id, ErrLifecycle, fmt.Errorf("process %s has ended", p.info.ID))
	default:
	}
	err := p.run.child.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return newError("signal", p.session.id, ErrLifecycle, fmt.Errorf("process %s has ended", p.info.ID))
	}
	if err != nil {
		return newError("signal", p.session.id, ErrExec, err)
	}
	return nil
}

func (p *localProcess) Resize(size TerminalSize) error {
	if p.run.terminal == nil {
		return invalid("resize", p.session.id, "process %s has no terminal", p.info.ID)
	}
	if size.Rows == 0 || size.Cols == 0 {
		return invalid("resize", p.session.id, "terminal size needs rows and columns")
	}
	if err := osconfine.ResizeTerminal(p.run.terminal, size.Rows, size.Cols); err != nil {
		return newError("resize", p.session.id, ErrExec, err)
	}
	return nil
}

// Start starts a command in the session and returns its handle at once.
// The process keeps running after Start returns (ctx bounds only the
// start) and ends by its own exit, a signal, its timeout or Terminate.
// Errors are those of Exec for a command that could not start.
func (l *Local) Start(ctx context.Context, id SessionID, req ExecRequest) (Process, error) {
	p, err := l.startProcess(ctx, "start", id, req, nil, true)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// startProcess starts req in session id; cancel, when closed, ends the
// command as a cancelled context does (Exec), and openStdin keeps a
// stdin for the caller when the request gives none (Start).
func (l *Local) startProcess(ctx context.Context, op string, id SessionID, req ExecRequest, cancel <-chan struct{}, openStdin bool) (*localProcess, error) {
	if err := req.Validate(); err != nil {
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
	p, err := s.launch(op, plan, &req, cancel, openStdin)
	if err != nil {
		s.endExec()
		return nil, err
	}
	return p, nil
}

// launch starts the command of plan and the goroutine that waits for it,
// registers the process, and ends the session's count of it when it ends.
func (s *localSession) launch(op string, plan execPlan, req *ExecRequest, cancel <-chan struct{}, openStdin bool) (*localProcess, error) {
	env := childEnv(plan.env, req.Env)
	pathList := plan.env["PATH"]
	if v, ok := req.Env["PATH"]; ok {
		pathList = v
	}
	// In a view, the session init looks the command up where it runs.
	bin := req.Command
	if !plan.inView {
		var err error
		if bin, err = lookPath(req.Command, pathList, plan.dir); err != nil {
			return nil, newError(op, s.id, ErrExec, err)
		}
	}
	timeout := req.Timeout
	if timeout == 0 {
		timeout = plan.limits.WallTime
	}
	r := &commandRun{
		cmd:       &exec.Cmd{Path: bin, Args: append([]string{req.Command}, req.Args...), Env: env, Dir: plan.dir},
		req:       req,
		timeout:   timeout,
		limits:    plan.limits,
		stop:      s.stop,
		cancel:    cancel,
		openStdin: openStdin,
		start: func(c *exec.Cmd) (*osconfine.Child, error) {
			return s.startTracked(op, plan.prep, c)
		},
	}
	if err := r.begin(); err != nil {
		return nil, startError(op, s.id, err)
	}
	p := &localProcess{session: s, run: r, done: make(chan struct{}), info: ProcessInfo{
		PID: r.child.Pid(), Command: req.Command, Args: slices.Clone(req.Args),
		StartedAt: r.began.UTC(), Terminal: req.Terminal != nil,
	}}
	s.mu.Lock()
	s.nextProc++
	p.info.ID = ProcessID(fmt.Sprintf("p%d", s.nextProc))
	s.procs[p.info.ID] = p
	s.mu.Unlock()
	go func() {
		res := r.wait()
		if plan.proxy != nil {
			res.Network = plan.proxy.summary(r.began, time.Now())
		}
		p.res = res
		s.mu.Lock()
		delete(s.procs, p.info.ID)
		s.mu.Unlock()
		close(p.done)
		s.endExec()
	}()
	return p, nil
}

// startError maps the error of a command that did not start to its kind.
func startError(op string, id SessionID, err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, errTerminated):
		return newError(op, id, ErrSessionNotFound, nil)
	case errors.Is(err, ErrUnsupported), errors.Is(err, osconfine.ErrUnsupported):
		return newError(op, id, ErrUnsupported, err)
	}
	return newError(op, id, ErrExec, err)
}

// Processes lists the session's running processes, oldest first.
func (l *Local) Processes(ctx context.Context, id SessionID) ([]ProcessInfo, error) {
	s, err := l.session("processes", id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ProcessInfo, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, p.Info())
	}
	slices.SortFunc(out, func(a, b ProcessInfo) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out, nil
}

// Process finds a running process of the session by its id.
func (l *Local) Process(ctx context.Context, id SessionID, pid ProcessID) (Process, error) {
	s, err := l.session("process", id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	p := s.procs[pid]
	s.mu.Unlock()
	if p == nil {
		return nil, invalid("process", id, "no running process %q in the session", pid)
	}
	return p, nil
}
