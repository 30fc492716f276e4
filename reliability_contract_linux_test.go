//go:build linux

package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Unrestricted commands run without confinement, but nothing they start
// outlives Exec or Terminate where the host can prevent it.
func TestUnrestrictedLeavesNoDetachedProcess(t *testing.T) {
	l, _ := newLocal(t)
	if m := l.Capabilities().Enforcement.UnrestrictedProcessTree; !m.Enforced {
		t.Skipf("this host cannot contain an unconfined tree: %s", m.Reason)
	}
	sess := provision(t, l, Spec{Profile: Unrestricted, NetworkPolicy: AllowAll()})

	t.Run("exec returns", func(t *testing.T) {
		mark, _ := newMarks(t)
		res := run(t, l, sess.ID, sh(detachScript, mark))
		if string(res.Stdout) != "detached\n" {
			t.Fatalf("the command did not detach its processes: %+v", res)
		}
		if left := waitGone(mark); len(left) > 0 {
			t.Fatalf("detached processes outlived Exec: %v", left)
		}
	})
	t.Run("terminate", func(t *testing.T) {
		other := provision(t, l, Spec{Profile: Unrestricted, NetworkPolicy: AllowAll()})
		mark, _ := newMarks(t)
		ready := make(chan string, 1)
		req := sh(detachScript+"\nsleep 300", mark)
		req.Stdout = lineSignal(ready)
		done := make(chan *ExecResult, 1)
		go func() { res, _ := l.Exec(context.Background(), other.ID, req); done <- res }()
		<-ready
		if n := len(markedPids(mark)); n < 3 {
			t.Fatalf("%d marked processes while running, want 3", n)
		}
		if err := l.Terminate(context.Background(), other.ID); err != nil {
			t.Fatal(err)
		}
		if res := <-done; res == nil || res.Reason != ReasonTerminated {
			t.Errorf("result of the terminated command: %+v, want reason terminated", res)
		}
		if left := waitGone(mark); len(left) > 0 {
			t.Fatalf("detached processes outlived Terminate: %v", left)
		}
	})
}

// waitGone waits up to 2 s for the marked processes to be gone (their
// namespace's init has died; the kernel reaps the rest asynchronously) and
// returns those left.
func waitGone(mark string) []int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := markedPids(mark)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exactlyOneKind fails unless err matches want and no other sentinel.
func exactlyOneKind(t *testing.T, what string, err, want error) {
	t.Helper()
	var kinds []error
	for _, k := range []error{ErrSessionNotFound, ErrUnsupported, ErrInvalidRequest, ErrLifecycle, ErrExec, ErrNetworkPolicy, ErrIO} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 || kinds[0] != want {
		t.Errorf("%s: %v matches %v, want exactly %v", what, err, kinds, want)
	}
}

// Exec racing Terminate: either the command ran (a result) or the session
// was gone (ErrSessionNotFound and nothing else).
func TestExecRacingTerminate(t *testing.T) {
	l, _ := newLocal(t)
	for i := 0; i < 20; i++ {
		sess := provision(t, l, Spec{})
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for j := 0; j < 4; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := l.Exec(context.Background(), sess.ID, sh(`sleep 0.05`))
				if err != nil {
					errs <- err
				} else if res.Reason != ReasonExited && res.Reason != ReasonTerminated {
					errs <- errors.New("unexpected reason " + string(res.Reason))
				}
			}()
		}
		time.Sleep(time.Duration(i) * time.Millisecond)
		if err := l.Terminate(context.Background(), sess.ID); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			exactlyOneKind(t, "Exec racing Terminate", err, ErrSessionNotFound)
		}
	}
}

func TestTerminatedCommandSaysSo(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	ready := make(chan string, 1)
	req := sh(`echo started; sleep 300`)
	req.Stdout = lineSignal(ready)
	done := make(chan *ExecResult, 1)
	go func() { res, _ := l.Exec(context.Background(), sess.ID, req); done <- res }()
	<-ready
	if err := l.Terminate(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res == nil || res.Reason != ReasonTerminated || res.TimedOut || res.Signal == "" || string(res.Stdout) != "started\n" {
		t.Fatalf("result %+v: want reason terminated, a signal, not timed out, the output kept", res)
	}
}

// A context already done starts nothing: the command would have left a
// file; its sibling with a live context does.
func TestCancelledContextStartsNothing(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	out := mountSource(t, sess, OutputsTarget)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := l.Exec(ctx, sess.ID, sh(`touch "$SANDBOX_OUTPUTS_DIR/ran"`))
	if res != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Exec with a cancelled context: %+v, %v; want no result and context.Canceled", res, err)
	}
	exactlyOneKind(t, "cancelled context", err, ErrExec)
	time.Sleep(100 * time.Millisecond)
	if _, ok := fileContent(t, filepath.Join(out, "ran")); ok {
		t.Fatal("the command ran although the context was already cancelled")
	}
	run(t, l, sess.ID, sh(`touch "$SANDBOX_OUTPUTS_DIR/ran"`))
	if _, ok := fileContent(t, filepath.Join(out, "ran")); !ok {
		t.Fatal("the sibling with a live context did not run")
	}
}

// An allow-list is never accepted and ignored: OSHardened refuses it as
// unsupported while no proxy enforces it, Unrestricted as a policy error;
// deny-all and unrestricted policies are accepted.
func TestAllowListErrorKinds(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	ctx := context.Background()
	_, err := l.Provision(ctx, Spec{Profile: Unrestricted, NetworkPolicy: AllowHosts("example.test")})
	exactlyOneKind(t, "allow-list under Unrestricted", err, ErrNetworkPolicy)
	if l.Capabilities().Enforcement.NetworkAllowList.Enforced {
		return
	}
	_, err = l.Provision(ctx, Spec{NetworkPolicy: AllowHosts("example.test")})
	exactlyOneKind(t, "allow-list under OSHardened", err, ErrUnsupported)
	var e *Error
	if !errors.As(err, &e) || e.Op != "provision" {
		t.Errorf("error %v names operation %q, want provision", err, e.Op)
	}
	sess := provision(t, l, Spec{})
	err = l.ApplyNetworkPolicy(ctx, sess.ID, AllowHosts("example.test"))
	exactlyOneKind(t, "allow-list applied", err, ErrUnsupported)
	if !errors.As(err, &e) || e.Op != "apply network policy" {
		t.Errorf("error %v names operation %q", err, e.Op)
	}
	if err := l.ApplyNetworkPolicy(ctx, sess.ID, AllowAll()); err != nil {
		t.Errorf("unrestricted policy refused: %v", err)
	}
}

// The caller's own sources for the canonical mounts: outputs outlive the
// session, memory carries over to the next one, and Terminate removes
// neither.
func TestCallerCanonicalSources(t *testing.T) {
	l, _ := newLocal(t)
	outputs, memory := outsideDir(t), outsideDir(t)
	spec := Spec{Mounts: []Mount{
		{Source: outputs, Target: OutputsTarget, Access: ReadWrite},
		{Source: memory, Target: MemoryTarget, Access: ReadWrite},
	}}
	first := provision(t, l, spec)
	run(t, l, first.ID, sh(`echo report > "$SANDBOX_OUTPUTS_DIR/report.txt"; echo remembered > "$SANDBOX_MEMORY_DIR/note"`))
	if err := l.Terminate(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := fileContent(t, filepath.Join(outputs, "report.txt")); got != "report\n" {
		t.Fatalf("outputs after Terminate: %q", got)
	}
	second := provision(t, l, spec)
	res := run(t, l, second.ID, sh(`cat "$SANDBOX_MEMORY_DIR/note"`))
	if string(res.Stdout) != "remembered\n" {
		t.Fatalf("memory in the next session: %+v", res)
	}
}

// A read-only mount of a missing source is refused and creates nothing;
// a read-write one creates its source.
func TestMountSourceExistence(t *testing.T) {
	l, _ := newLocal(t)
	outside := outsideDir(t)
	missing := filepath.Join(outside, "typo")
	_, err := l.Provision(context.Background(), Spec{Mounts: []Mount{{Source: missing, Target: "/mnt/in", Access: ReadOnly}}})
	exactlyOneKind(t, "read-only mount of a missing source", err, ErrInvalidRequest)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("error %v does not name the missing source", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("the missing source was created: %v", err)
	}
	made := filepath.Join(outside, "made")
	provision(t, l, Spec{Mounts: []Mount{{Source: made, Target: "/mnt/out", Access: ReadWrite}}})
	if info, err := os.Stat(made); err != nil || !info.IsDir() {
		t.Fatalf("read-write source not created: %v", err)
	}
}

// Spec.Env reaches every command, before the request's own Env.
func TestSessionEnvironment(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{Env: map[string]string{"TOOL_HOME": "/opt/tool", "MODE": "session"}})
	res := run(t, l, sess.ID, sh(`echo "$TOOL_HOME $MODE"`))
	if string(res.Stdout) != "/opt/tool session\n" {
		t.Fatalf("session env: %q", res.Stdout)
	}
	req := sh(`echo "$TOOL_HOME $MODE"`)
	req.Env = map[string]string{"MODE": "request"}
	if res := run(t, l, sess.ID, req); string(res.Stdout) != "/opt/tool request\n" {
		t.Fatalf("request env over session env: %q", res.Stdout)
	}
}
