package sandbox

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stuckWriter blocks every Write until the test ends, like a caller's
// writer whose reader went away.
type stuckWriter struct {
	release chan struct{}
	once    sync.Once
}

func newStuckWriter(t *testing.T) *stuckWriter {
	w := &stuckWriter{release: make(chan struct{})}
	t.Cleanup(func() { w.once.Do(func() { close(w.release) }) })
	return w
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// slowWriter takes every byte, slowly.
type slowWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// flood writes to stdout without end.
var flood = sh(`while :; do echo 0123456789abcdef0123456789abcdef; done`)

// grace is what Exec may take past its deadline: the kill, the drain of
// what the pipes still hold, and flushGrace.
const grace = 1500 * time.Millisecond

func TestStuckWriterBoundedByTimeout(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	req := flood
	req.Stdout = newStuckWriter(t)
	req.Timeout = 2 * time.Second
	began := time.Now()
	res := run(t, l, sess.ID, req)
	if d := time.Since(began); d > req.Timeout+grace {
		t.Fatalf("Exec returned after %v with a 2 s timeout and a stuck writer", d)
	}
	if !res.TimedOut || res.Reason != ReasonWallTime || !res.StdoutWriterFailed {
		t.Fatalf("result %+v: want timed out, wall_time, writer failed", res)
	}
	if len(res.Stdout) == 0 {
		t.Error("the result lost the output it captured")
	}
}

func TestStuckWriterBoundedByContext(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	req := flood
	req.Stdout = newStuckWriter(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	began := time.Now()
	res, err := l.Exec(ctx, sess.ID, req)
	if d := time.Since(began); d > time.Second+grace {
		t.Fatalf("Exec returned after %v with a 1 s context deadline and a stuck writer", d)
	}
	if err != nil || res.Reason != ReasonCancelled || !res.TimedOut || !res.StdoutWriterFailed {
		t.Fatalf("result %+v, %v: want cancelled, timed out, writer failed", res, err)
	}
}

func TestStuckWriterBoundedByTerminate(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	req := flood
	req.Stderr = newStuckWriter(t)
	req.Args = slices.Clone(req.Args) // flood is shared by the other tests
	req.Args[1] = `while :; do echo 0123456789abcdef0123456789abcdef >&2; done`
	type outcome struct {
		res *ExecResult
		err error
		at  time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := l.Exec(context.Background(), sess.ID, req)
		done <- outcome{res, err, time.Now()}
	}()
	time.Sleep(500 * time.Millisecond)
	terminated := time.Now()
	if err := l.Terminate(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Exec still running 10 s after Terminate")
	}
	if d := o.at.Sub(terminated); d > grace {
		t.Errorf("Exec returned %v after Terminate", d)
	}
	if o.err != nil || o.res.Reason != ReasonTerminated || o.res.TimedOut || !o.res.StderrWriterFailed {
		t.Fatalf("result %+v, %v: want reason terminated, not timed out, writer failed", o.res, o.err)
	}
}

// The admitted sibling of the cases above: a writer that is slow but
// keeps up gets every byte, and is not marked failed.
func TestSlowWriterGetsTheWholeOutput(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	w := &slowWriter{}
	req := sh(`i=0; while [ $i -lt 300 ]; do echo "line $i"; i=$((i+1)); done`)
	req.Stdout = w
	res := run(t, l, sess.ID, req)
	if res.StdoutWriterFailed {
		t.Fatal("a slow writer was marked failed")
	}
	got := w.buf.String()
	if !strings.HasPrefix(got, "line 0\n") || !strings.HasSuffix(got, "line 299\n") || strings.Count(got, "\n") != 300 {
		t.Fatalf("writer got %d lines, want 300 in order", strings.Count(got, "\n"))
	}
	if got != string(res.Stdout) {
		t.Error("the writer and the result disagree")
	}
}

// A command that exits at once while the writer is stuck: Exec waits for
// the writer only until the deadline, and the result keeps the output.
func TestStuckWriterAfterQuickCommand(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	req := sh(`echo done`)
	req.Stdout = newStuckWriter(t)
	req.Timeout = time.Second
	began := time.Now()
	res := run(t, l, sess.ID, req)
	if d := time.Since(began); d > time.Second+grace {
		t.Fatalf("Exec returned after %v", d)
	}
	if string(res.Stdout) != "done\n" || !res.StdoutWriterFailed || res.TimedOut || res.ExitCode != 0 {
		t.Fatalf("result %+v: want output kept, writer failed, exit 0, not timed out", res)
	}
}
