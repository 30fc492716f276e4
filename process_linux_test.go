//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is an output writer safe to read while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitFor polls until the output contains want (up to 10 s).
func waitFor(t *testing.T, w *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q never showed %q", w.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t *testing.T, l *Local, id SessionID, req ExecRequest) Process {
	t.Helper()
	p, err := l.Start(context.Background(), id, req)
	if err != nil {
		t.Fatalf("Start(%s %q): %v", req.Command, req.Args, err)
	}
	return p
}

const python = "/usr/bin/python3"

func requirePython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not installed", python)
	}
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A server started in one step answers a command of a later step, and is
// gone after Terminate.
func TestBackgroundServerAnswersLaterExec(t *testing.T) {
	requirePython(t)
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{NetworkPolicy: AllowAll()})
	run(t, l, sess.ID, sh(`echo served-by-the-session > index.txt`))
	port := freePort(t)
	server := start(t, l, sess.ID, ExecRequest{Command: python,
		Args: []string{"-m", "http.server", "--bind", "127.0.0.1", fmt.Sprint(port)}, Timeout: time.Minute})
	if infos, _ := l.Processes(context.Background(), sess.ID); len(infos) != 1 || infos[0].ID != server.Info().ID {
		t.Fatalf("Processes: %+v, want the server", infos)
	}
	res := run(t, l, sess.ID, sh(`for i in $(seq 100); do curl -sf "http://127.0.0.1:$1/index.txt" && exit 0; sleep 0.1; done; exit 1`, fmt.Sprint(port)))
	if string(res.Stdout) != "served-by-the-session\n" {
		t.Fatalf("a later Exec reached the background server: %+v", res)
	}
	if again, err := l.Process(context.Background(), sess.ID, server.Info().ID); err != nil || again.Info().PID != server.Info().PID {
		t.Fatalf("Process by id: %v, %v", again, err)
	}
	if err := l.Terminate(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	res, err := server.Wait(context.Background())
	if err != nil || res.Reason != ReasonTerminated {
		t.Fatalf("server result after Terminate: %+v, %v", res, err)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Fatal("the server still answers after Terminate")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", server.Info().PID)); err == nil {
		t.Fatalf("the server process %d is still there", server.Info().PID)
	}
}

// A shell fed through Stdin answers each command in turn; closing Stdin
// ends it.
func TestShellFedThroughStdin(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	out := &lockedBuffer{}
	p := start(t, l, sess.ID, ExecRequest{Command: "sh", Stdout: out})
	// pwd prints the workdir where the shell sees it.
	workdir := guestPath(t, sess, sess.Workdir)
	for i, cmd := range []string{"echo one", "echo $((40 + 2))", "pwd"} {
		if _, err := fmt.Fprintln(p.Stdin(), cmd); err != nil {
			t.Fatal(err)
		}
		want := []string{"one\n", "one\n42\n", "one\n42\n" + workdir + "\n"}[i]
		waitFor(t, out, want)
		if out.String() != want {
			t.Fatalf("after %q: %q, want %q", cmd, out.String(), want)
		}
	}
	if err := p.Stdin().Close(); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait(context.Background())
	if err != nil || res.ExitCode != 0 || res.Reason != ReasonExited || string(res.Stdout) != out.String() {
		t.Fatalf("after EOF: %+v, %v", res, err)
	}
}

// Signal reaches the process; the sibling without a signal keeps running.
func TestSignalReachesProcess(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	out := &lockedBuffer{}
	script := `trap 'echo got INT; exit 3' INT; echo ready; while :; do sleep 0.05; done`
	p := start(t, l, sess.ID, ExecRequest{Command: "sh", Args: []string{"-c", script}, Stdout: out})
	sibling := start(t, l, sess.ID, ExecRequest{Command: "sh", Args: []string{"-c", script}})
	waitFor(t, out, "ready\n")
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait(context.Background())
	if err != nil || res.ExitCode != 3 || !strings.Contains(string(res.Stdout), "got INT") {
		t.Fatalf("after SIGINT: %+v, %v", res, err)
	}
	select {
	case <-sibling.Done():
		t.Fatal("the sibling that got no signal ended")
	case <-time.After(200 * time.Millisecond):
	}
	if err := p.Signal(syscall.SIGINT); !errorsIs(err, ErrLifecycle) {
		t.Errorf("signal to an ended process: %v, want ErrLifecycle", err)
	}
}

// A terminal: the command sees its size, then the new size after a
// resize (with SIGWINCH), and knows it is on a terminal; without one it
// knows it is not.
func TestTerminalSizeAndResize(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	out := &lockedBuffer{}
	script := `trap 'echo "winch $(stty size)"' WINCH; test -t 0 && echo "tty $(stty size)"; while read line; do [ "$line" = quit ] && exit 0; done`
	p := start(t, l, sess.ID, ExecRequest{Command: "sh", Args: []string{"-c", script}, Stdout: out,
		Terminal: &TerminalSize{Rows: 24, Cols: 80}})
	waitFor(t, out, "tty 24 80")
	if err := p.Resize(TerminalSize{Rows: 30, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "winch 30 100")
	fmt.Fprintln(p.Stdin(), "quit")
	res, err := p.Wait(context.Background())
	if err != nil || res.ExitCode != 0 || len(res.Stderr) != 0 {
		t.Fatalf("terminal command: %+v, %v (stderr joins stdout on a terminal)", res, err)
	}
	plain := start(t, l, sess.ID, ExecRequest{Command: "sh", Args: []string{"-c", `test -t 0 || echo "no tty"`}})
	if err := plain.Resize(TerminalSize{Rows: 1, Cols: 1}); !errorsIs(err, ErrInvalidRequest) {
		t.Errorf("resize without a terminal: %v", err)
	}
	if res, _ := plain.Wait(context.Background()); string(res.Stdout) != "no tty\n" {
		t.Fatalf("without a terminal: %q", res.Stdout)
	}
}

func TestPythonSeesTheTerminal(t *testing.T) {
	requirePython(t)
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	check := ExecRequest{Command: python, Args: []string{"-c", "import sys; print(sys.stdout.isatty())"}}
	withTTY := check
	withTTY.Terminal = &TerminalSize{Rows: 24, Cols: 80}
	if res := run(t, l, sess.ID, withTTY); strings.TrimSpace(string(res.Stdout)) != "True" {
		t.Fatalf("in a terminal: %q", res.Stdout)
	}
	if res := run(t, l, sess.ID, check); strings.TrimSpace(string(res.Stdout)) != "False" {
		t.Fatalf("without a terminal: %q", res.Stdout)
	}
}

func errorsIs(err, target error) bool {
	e, ok := err.(*Error)
	return ok && e.Kind == target
}

// 100 background processes across 10 sessions, read and written from
// goroutines, leave no descriptor, goroutine, thread or process behind.
func TestManyBackgroundProcessesLeaveNothing(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	fds := func() int {
		entries, _ := os.ReadDir("/proc/self/fd")
		return len(entries)
	}
	threads := func() int {
		entries, _ := os.ReadDir("/proc/self/task")
		return len(entries)
	}
	mark, _ := newMarks(t)
	settle := func(baseFDs, baseG int) {
		deadline := time.Now().Add(10 * time.Second)
		for (fds() > baseFDs || runtime.NumGoroutine() > baseG || len(markedPids(mark)) > 0) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The first round makes the runtime's threads for this concurrency:
	// Go keeps idle threads for reuse, so only growth after it counts.
	hundredProcesses(t, l, mark)
	waitGone(mark)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	baseFDs, baseG, baseT := fds(), runtime.NumGoroutine(), threads()
	hundredProcesses(t, l, mark)
	settle(baseFDs, baseG)
	if n := len(markedPids(mark)); n > 0 {
		t.Errorf("%d processes left after Terminate", n)
	}
	if n := fds(); n > baseFDs {
		t.Errorf("file descriptors: %d after, %d before", n, baseFDs)
	}
	if n := runtime.NumGoroutine(); n > baseG {
		t.Errorf("goroutines: %d after, %d before", n, baseG)
	}
	// The runtime may add a few idle threads under another interleaving
	// of the same work; a spawner thread kept per process would be 100.
	const runtimeSlack = 10
	if n := threads(); n > baseT+runtimeSlack {
		t.Errorf("threads: %d after, %d before", n, baseT)
	}
}

// hundredProcesses starts 100 background processes across 10 sessions
// from goroutines, talks to each through its stdin and stdout, checks the
// listing, and terminates the sessions.
func hundredProcesses(t *testing.T, l *Local, mark string) {
	t.Helper()
	var sessions []*Session
	for range 10 {
		s, err := l.Provision(context.Background(), hardenedSpec(t, l, Spec{}))
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		s := sessions[i%10]
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &lockedBuffer{}
			p, err := l.Start(context.Background(), s.ID, ExecRequest{Command: "sh", Stdout: out,
				Args: []string{"-c", `read line; echo "got $line"; sleep 300; : "$1"`, "sh", mark}})
			if err != nil {
				errs <- err
				return
			}
			fmt.Fprintf(p.Stdin(), "n%d\n", i)
			deadline := time.Now().Add(20 * time.Second)
			for out.String() != fmt.Sprintf("got n%d\n", i) {
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("process %d: %q", i, out.String())
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	running := 0
	for _, s := range sessions {
		infos, _ := l.Processes(context.Background(), s.ID)
		running += len(infos)
	}
	if running != 100 {
		t.Errorf("%d processes listed, want 100", running)
	}
	for _, s := range sessions {
		if err := l.Terminate(context.Background(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
}
