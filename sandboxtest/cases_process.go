package sandboxtest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/go-sandbox/sandbox"
)

// The cases of process handles and terminals, for backends that are a
// sandbox.ProcessBackend; the others get NotApplicable.

func (k *kit) processCases() []tcase {
	return []tcase{
		{name: "background_process_answers_later_exec", fn: backgroundAnswers},
		{name: "background_terminate_leaves_nothing", refusal: true, mech: mechProcessTree, fn: backgroundTerminate},
		{name: "terminal_is_a_tty", fn: terminalIsTTY},
		{name: "terminal_resize_reaches_command", fn: terminalResize},
	}
}

const notProcessBackend = "the backend is not a sandbox.ProcessBackend (no Start)"

// syncBuffer is an output writer the kit reads while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// pingServer answers each "ping" file in its directory with a "pong"
// holding the token: a server, by files, that only a process still
// running can be.
const pingServer = `while :; do if [ -e ping ]; then printf %s "$1" > pong; rm -f ping; fi; sleep 0.05; done`

func backgroundAnswers(ctx context.Context, k *kit, c *tcase) Result {
	pb, ok := k.b.(sandbox.ProcessBackend)
	if !ok {
		return notApplicable(notProcessBackend)
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	tok := token()
	p, err := pb.Start(ctx, s.ID, sandbox.ExecRequest{Command: k.opts.Shell, Args: []string{"-c", pingServer, "sh", tok}, Timeout: time.Minute})
	if err != nil {
		return k.setupFailed(c, "start", err)
	}
	defer p.Signal(killSignal)
	r, err := k.sh(ctx, s.ID, `touch ping; i=0; while [ $i -lt 200 ]; do [ -e pong ] && cat pong && exit 0; sleep 0.05; i=$((i+1)); done; exit 1`)
	if err == nil && strings.TrimSpace(string(r.Stdout)) == tok {
		return conforms("the background process %s answered a later Exec", p.Info().ID)
	}
	return overRefused("the background process did not answer a later Exec; %s", describe(r, err))
}

func backgroundTerminate(ctx context.Context, k *kit, c *tcase) Result {
	pb, ok := k.b.(sandbox.ProcessBackend)
	if !ok {
		return notApplicable(notProcessBackend)
	}
	s, _, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	marker := token()
	out := &syncBuffer{}
	p, err := pb.Start(ctx, s.ID, sandbox.ExecRequest{Command: k.opts.Shell, Stdout: out, Timeout: time.Minute,
		Args: []string{"-c", `(sleep 300; : "$1") & echo started; sleep 300; : "$1"`, "sh", marker}})
	if err != nil {
		k.b.Terminate(context.WithoutCancel(ctx), s.ID)
		return k.setupFailed(c, "start", err)
	}
	if !waitFor(ctx, 10*time.Second, func() bool { return strings.Contains(out.String(), "started") }) {
		k.b.Terminate(context.WithoutCancel(ctx), s.ID)
		return overRefused("the background process never started: %q", out.String())
	}
	if err := k.b.Terminate(ctx, s.ID); err != nil {
		return escaped("terminate: %v", err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		return escaped("the background process %s still runs 10s after Terminate", p.Info().ID)
	}
	if n := k.countProcesses(ctx, marker); n > 0 {
		waitFor(ctx, 3*time.Second, func() bool { n = k.countProcesses(ctx, marker); return n == 0 })
		if n > 0 {
			return escaped("%d process(es) of the background process survived Terminate", n)
		}
	}
	res, _ := p.Wait(ctx)
	if res == nil || res.Reason != sandbox.ReasonTerminated {
		return escaped("the background process ended, but its result does not say terminated: %+v", res)
	}
	return conforms("Terminate ended the background process and its child (reason %q)", res.Reason)
}

func terminalIsTTY(ctx context.Context, k *kit, c *tcase) Result {
	if !k.b.Capabilities().Terminal {
		return notApplicable("the backend reports no terminal support")
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	r, err := k.shReq(ctx, s.ID, sandbox.ExecRequest{Terminal: &sandbox.TerminalSize{Rows: 24, Cols: 80}},
		`test -t 0 && test -t 1 && test -t 2 && echo "tty $(stty size)"`)
	if err == nil && strings.Contains(string(r.Stdout), "tty 24 80") {
		return conforms("stdin, stdout and stderr are a terminal of 24x80")
	}
	return overRefused("no terminal of the size asked; %s", describe(r, err))
}

func terminalResize(ctx context.Context, k *kit, c *tcase) Result {
	pb, ok := k.b.(sandbox.ProcessBackend)
	if !ok {
		return notApplicable(notProcessBackend)
	}
	if !k.b.Capabilities().Terminal {
		return notApplicable("the backend reports no terminal support")
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	out := &syncBuffer{}
	p, err := pb.Start(ctx, s.ID, sandbox.ExecRequest{Command: k.opts.Shell, Stdout: out, Timeout: time.Minute,
		Terminal: &sandbox.TerminalSize{Rows: 24, Cols: 80},
		Args:     []string{"-c", `trap 'echo "winch $(stty size)"' WINCH; echo ready; while :; do sleep 0.05; done`}})
	if err != nil {
		return k.setupFailed(c, "start", err)
	}
	defer p.Signal(killSignal)
	if !waitFor(ctx, 10*time.Second, func() bool { return strings.Contains(out.String(), "ready") }) {
		return overRefused("the command on the terminal never started: %q", out.String())
	}
	if err := p.Resize(sandbox.TerminalSize{Rows: 30, Cols: 100}); err != nil {
		return overRefused("resize: %v", err)
	}
	if waitFor(ctx, 10*time.Second, func() bool { return strings.Contains(out.String(), "winch 30 100") }) {
		return conforms("the resize reached the command as SIGWINCH with the new size 30x100")
	}
	return overRefused("no SIGWINCH with the new size: %q", out.String())
}
