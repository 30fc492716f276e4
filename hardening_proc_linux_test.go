package sandbox_test

// Hardening: the lifetime of a command's process tree.

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/stretchr/testify/require"
)

func TestHardeningProcessLifetime(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "process tree containment", l.Capabilities().Enforcement.ProcessTree)
	sess := provision(t, l, sandbox.Spec{})

	// Sibling: an ordinary command runs and returns its output.
	if res := run(t, l, sess.ID, sandbox.ExecRequest{Command: "echo", Args: []string{"hi"}}); string(res.Stdout) != "hi\n" {
		t.Fatalf("echo hi: stdout %q stderr %q", res.Stdout, res.Stderr)
	}

	// Each script leaves a process behind it and ends only once that
	// process has detached (it writes to the FIFO $3 then), so that no kill
	// of the command's process group can reach it by winning a race. $1 is
	// the marker (the inner shell's $0), $2 the unique sleep duration.
	for _, c := range []struct{ name, script string }{
		{"setsid", `setsid sh -c 'echo >"$2"; sleep "$1"; :' "$1" "$2" "$3" &`},
		{"nohup", `nohup sh -c 'echo >"$2"; sleep "$1"; :' "$1" "$2" "$3" >/dev/null 2>&1 &`},
		{"sigterm-ignored", `sh -c 'trap "" TERM HUP; echo >"$2"; sleep "$1"; :' "$1" "$2" "$3" &`},
		{"double-fork", `(sh -c 'echo >"$2"; sleep "$1"; :' "$1" "$2" "$3" &) &`},
		// The background shell keeps the stdout pipe open.
		{"holds-stdout", `sh -c 'echo >"$2"; sleep "$1"; :' "$1" "$2" "$3" &`},
	} {
		t.Run(c.name, func(t *testing.T) {
			mark, dur := newMarks(t)
			fifo := "sync-" + mark
			began := time.Now()
			res := run(t, l, sess.ID, sh(`mkfifo "$3" || exit 1; `+c.script+` read x <"$3" && echo started`, mark, dur, fifo))
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("Exec returned after %v", d)
			}
			if string(res.Stdout) != "started\n" || res.ExitCode != 0 {
				t.Errorf("exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
			}
			if left := markedPids(mark, dur); len(left) > 0 {
				t.Fatalf("processes left after Exec returned: %v", left)
			}
		})
	}

	// startBackground runs a command that leaves two marked processes
	// behind and then waits; it returns once they are visible, with a
	// channel that delivers Exec's outcome.
	type outcome struct {
		res *sandbox.ExecResult
		err error
	}
	startBackground := func(t *testing.T, ctx context.Context, sess *sandbox.Session) (string, string, chan outcome) {
		mark, dur := newMarks(t)
		up := make(chan struct{})
		done := make(chan outcome, 1)
		go func() {
			// "up" comes from the daemon, once it has its own session.
			req := sh(`sleep "$2" & setsid sh -c 'trap "" TERM; echo up; sleep "$1"; :' "$1" "$2" & wait`, mark, dur)
			req.Stdout = newSignalWriter("up\n", func() { close(up) })
			res, err := l.Exec(ctx, sess.ID, req)
			done <- outcome{res, err}
		}()
		select {
		case <-up:
		case o := <-done:
			t.Fatalf("the command ended early: %+v %v", o.res, o.err)
		case <-time.After(5 * time.Second):
			t.Fatal("the command did not start")
		}
		if pids := waitForPids(3, mark, dur); len(pids) < 3 {
			t.Fatalf("before the kill only %v carry the marks: the scan cannot see the command", pids)
		}
		return mark, dur, done
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		mark, dur, done := startBackground(t, ctx, sess)
		cancel()
		var o outcome
		select {
		case o = <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Exec did not return within 5 s of the cancellation")
		}
		if o.err != nil {
			t.Errorf("err = %v, want a result and no error", o.err)
		}
		if o.res == nil || !o.res.TimedOut || o.res.Reason != sandbox.ReasonCancelled {
			t.Errorf("result %+v, want TimedOut with reason %q", o.res, sandbox.ReasonCancelled)
		}
		if left := markedPids(mark, dur); len(left) > 0 {
			t.Fatalf("processes left after the cancelled Exec returned: %v", left)
		}
	})

	t.Run("terminate", func(t *testing.T) {
		own := provision(t, l, sandbox.Spec{})
		mark, dur, done := startBackground(t, context.Background(), own)
		require.NoError(t, l.Terminate(context.Background(), own.ID), "Terminate")
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Exec did not return within 5 s of Terminate")
		}
		if left := markedPids(mark, dur); len(left) > 0 {
			t.Fatalf("processes left after Terminate: %v", left)
		}
	})
}

// The host process is killed with SIGKILL while a sandboxed command has
// background processes: none survives. The host is the test binary re-run
// as a plain child ("host" mode); this test is the third process watching.
func TestHardeningHostKilledLeavesNoProcess(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "process tree containment", l.Capabilities().Enforcement.ProcessTree)
	mark, dur := newMarks(t)
	self, err := os.Executable()
	require.NoError(t, err)
	host := exec.Command(self)
	host.Env = append(os.Environ(), helperEnv+"=host", helperArgEnv+"="+t.TempDir()+"|"+mark+"|"+dur)
	var stderr bytes.Buffer
	host.Stderr = &stderr
	out, err := host.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, host.Start())
	killed := false
	defer func() {
		if !killed {
			host.Process.Kill()
			host.Wait()
		}
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(10 * time.Second)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the host ended before it was ready; stderr %q", stderr.String())
			}
			if line == "ready" {
				break wait
			}
			t.Logf("host: %s", line)
		case <-timeout:
			t.Fatal("the host did not report ready within 10 s")
		}
	}
	// Sibling: the sandboxed processes exist and the scan sees them (the
	// command's shell and two background shells).
	if pids := waitForPids(3, mark, dur); len(pids) < 2 {
		t.Fatalf("only %v carry the marks before the kill: the check could not see survivors", pids)
	}

	require.NoError(t, host.Process.Signal(syscall.SIGKILL))
	host.Wait()
	killed = true
	var left []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = markedPids(mark, dur); len(left) == 0 {
			return
		}
	}
	t.Fatalf("sandboxed processes outlived the SIGKILLed host by 5 s: %v", left)
}

// procStatus returns the fields of /proc/<pid>/status.
func procStatus(t *testing.T, pid string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	require.NoError(t, err)
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}
