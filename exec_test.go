//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestConcurrentExecsAllRefusedHostNeverConfined(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	const secret = "sentinel-concurrent-51d0"
	path := sentinelFile(t, secret)

	stop := make(chan struct{})
	var hostReads, hostFailures atomic.Int64
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := os.ReadFile(path)
				hostReads.Add(1)
				if err != nil || string(b) != secret {
					hostFailures.Add(1)
				}
			}
		}()
	}

	const n = 100
	results := make([]*ExecResult, n)
	errs := make([]error, n)
	var execs sync.WaitGroup
	for i := range n {
		execs.Add(1)
		go func() {
			defer execs.Done()
			results[i], errs[i] = l.Exec(context.Background(), sess.ID, ExecRequest{Command: "cat", Args: []string{path}})
		}()
	}
	execs.Wait()
	// One more round of host reads after every child is gone.
	time.Sleep(50 * time.Millisecond)
	close(stop)
	readers.Wait()

	for i := range n {
		if errs[i] != nil {
			t.Errorf("exec %d: %v", i, errs[i])
			continue
		}
		if bytes.Contains(results[i].Stdout, []byte(secret)) || results[i].ExitCode == 0 {
			t.Errorf("exec %d was admitted: exit %d stdout %q", i, results[i].ExitCode, results[i].Stdout)
		}
	}
	if hostReads.Load() == 0 || hostFailures.Load() != 0 {
		t.Errorf("host reads: %d, failed: %d (the test process must never be refused)", hostReads.Load(), hostFailures.Load())
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != secret {
		t.Errorf("host read after the execs: %q, %v", b, err)
	}
	// Confined spawner threads serve one session policy (only their own
	// locked goroutine ever runs on them) and exit once it is released and
	// their children are gone: terminate, give the runtime a bounded moment
	// to destroy them, then no thread may be confined.
	if err := l.Terminate(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	var confined []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		confined = confinedThreads(t)
		if len(confined) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(confined) > 0 {
		t.Fatalf("threads of the test process left confined: %v", confined)
	}
}

// confinedThreads lists the threads of this process whose status shows
// no_new_privs or a seccomp filter.
func confinedThreads(t *testing.T) []string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("listing threads: %v", err)
	}
	var bad []string
	for _, st := range tasks {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // the thread exited meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimSpace(v)
			if (k == "NoNewPrivs" && v != "0") || (k == "Seccomp" && v != "0") {
				bad = append(bad, st+" "+k+"="+v)
			}
		}
	}
	return bad
}

func TestTimeoutKillsSleepAndEverythingItStarted(t *testing.T) {
	for _, profile := range []Profile{OSHardened, Unrestricted} {
		t.Run(string(profile), func(t *testing.T) {
			l, _ := newLocal(t)
			sess := provision(t, l, Spec{Profile: profile})
			// A uniquely named link to sleep, so that any surviving process
			// is found by its command line.
			marker := fmt.Sprintf("sleep-marker-%d-%d", os.Getpid(), time.Now().UnixNano())
			sleepBin, err := filepath.EvalSymlinks("/bin/sleep")
			if err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(sess.Workdir, marker)
			if err := os.Symlink(sleepBin, link); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			res, err := l.Exec(context.Background(), sess.ID, ExecRequest{
				Command: "sh", Args: []string{"-c", `"$0" 100 & "$0" 100`, guestPath(t, sess, link)},
				Timeout: 100 * time.Millisecond,
			})
			elapsed := time.Since(began)
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if elapsed >= time.Second {
				t.Errorf("Exec returned after %v, want within a second", elapsed)
			}
			if !res.TimedOut || res.Reason != ReasonWallTime {
				t.Errorf("TimedOut %v Reason %q, want true %q", res.TimedOut, res.Reason, ReasonWallTime)
			}
			if res.Success() {
				t.Error("a timed-out command reports Success")
			}
			if left := processesWith(marker); len(left) > 0 {
				t.Fatalf("processes left after Exec returned: %v", left)
			}
		})
	}
}

// processesWith returns the pids whose command line contains s.
func processesWith(s string) []string {
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, e)
		}
	}
	return pids
}

func TestCancelledContextKillsCommand(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	began := time.Now()
	res, err := l.Exec(ctx, sess.ID, ExecRequest{Command: "sleep", Args: []string{"100"}})
	if err != nil {
		t.Fatalf("err = %v, want a result and no error, as for a timeout", err)
	}
	if res == nil || !res.TimedOut || res.Reason != ReasonCancelled {
		t.Fatalf("result %+v, want TimedOut with reason cancelled", res)
	}
	if d := time.Since(began); d >= time.Second {
		t.Errorf("cancelled Exec returned after %v", d)
	}
}

func TestOutputCapAndTruncation(t *testing.T) {
	const fifty = 50 << 20
	cases := []struct {
		name   string
		limits Limits
		want   int
	}{
		{"default cap", Limits{}, DefaultMaxOutputBytes},
		{"4096 cap", Limits{MaxOutputBytes: 4096}, 4096},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, _ := newLocal(t)
			sess := provision(t, l, Spec{Limits: c.limits})
			var streamed countingWriter
			req := ExecRequest{Command: "head", Args: []string{"-c", strconv.Itoa(fifty), "/dev/zero"}, Stdout: &streamed}
			res := run(t, l, sess.ID, req)
			if res.ExitCode != 0 || res.Signal != "" {
				t.Fatalf("exit %d signal %q stderr %q", res.ExitCode, res.Signal, res.Stderr)
			}
			if len(res.Stdout) != c.want || !res.StdoutTruncated {
				t.Fatalf("len(Stdout) = %d truncated %v, want %d true", len(res.Stdout), res.StdoutTruncated, c.want)
			}
			if res.StderrTruncated {
				t.Error("stderr marked truncated")
			}
			if streamed.n.Load() != fifty {
				t.Errorf("the Stdout writer received %d bytes, want %d", streamed.n.Load(), fifty)
			}

			// Sibling: small output is whole.
			res = run(t, l, sess.ID, ExecRequest{Command: "echo", Args: []string{"small"}})
			if string(res.Stdout) != "small\n" || res.StdoutTruncated {
				t.Fatalf("small output %q truncated %v", res.Stdout, res.StdoutTruncated)
			}
		})
	}
}

type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

func TestStdinBytesAndReader(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	res := run(t, l, sess.ID, ExecRequest{Command: "cat", Stdin: []byte("hello "), StdinReader: strings.NewReader("world")})
	if string(res.Stdout) != "hello world" {
		t.Fatalf("cat echoed %q", res.Stdout)
	}
	res = run(t, l, sess.ID, ExecRequest{Command: "cat", StdinReader: strings.NewReader("reader only")})
	if string(res.Stdout) != "reader only" {
		t.Fatalf("cat echoed %q", res.Stdout)
	}
	// No stdin at all: cat sees EOF at once.
	res = run(t, l, sess.ID, ExecRequest{Command: "cat"})
	if res.ExitCode != 0 || len(res.Stdout) != 0 {
		t.Fatalf("cat without stdin: exit %d stdout %q", res.ExitCode, res.Stdout)
	}
}

func TestEnvironmentIsScrubbed(t *testing.T) {
	for _, c := range []struct {
		name    string
		profile Profile
		view    ViewMode
	}{
		// The host's view: HOME, TMPDIR and the mounts' variables hold
		// host paths.
		{"os_hardened/view_host", OSHardened, ViewHost},
		// The session's own view where the host can make one: they hold
		// guest paths.
		{"os_hardened/view_auto", OSHardened, ViewAuto},
		{"unrestricted", Unrestricted, ViewAuto},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SANDBOX_TEST_SECRET", "host-secret-4471")
			l, _ := newLocalWith(t, LocalConfig{View: c.view})
			sess := provision(t, l, Spec{Profile: c.profile})
			if c.view == ViewHost && hasView(sess) {
				t.Fatalf("a ViewHost session has a view: %+v", sess.Dirs)
			}
			res := run(t, l, sess.ID, ExecRequest{Command: "env", Env: map[string]string{"DECLARED": "yes"}})
			env := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
				k, v, _ := strings.Cut(line, "=")
				env[k] = v
			}
			if _, ok := env["SANDBOX_TEST_SECRET"]; ok || strings.Contains(string(res.Stdout), "host-secret-4471") {
				t.Errorf("host environment leaked into the child: %q", res.Stdout)
			}
			if env["DECLARED"] != "yes" {
				t.Errorf("declared variable missing: %q", res.Stdout)
			}
			if hasView(sess) {
				if env["HOME"] != HomeTarget || env["TMPDIR"] != TempTarget {
					t.Errorf("HOME=%q TMPDIR=%q, want the guest paths %s and %s", env["HOME"], env["TMPDIR"], HomeTarget, TempTarget)
				}
				if env[MemoryEnv] != MemoryTarget || env[OutputsEnv] != OutputsTarget {
					t.Errorf("%s=%q %s=%q, want the guest paths %s and %s", MemoryEnv, env[MemoryEnv], OutputsEnv, env[OutputsEnv], MemoryTarget, OutputsTarget)
				}
			}
			// Behind what the command sees: the session's own directories
			// and its mounts' sources on the host.
			for _, k := range []string{"HOME", "TMPDIR"} {
				host, err := sess.HostPath(env[k])
				if err != nil || !within(sess.Root, host) || host == sess.Root {
					t.Errorf("%s=%q (host path %q, %v) is not inside the session root %s", k, env[k], host, err, sess.Root)
				}
			}
			if got, want := env[MemoryEnv], guestPath(t, sess, mountSource(t, sess, MemoryTarget)); got != want {
				t.Errorf("%s=%q, want %q", MemoryEnv, got, want)
			}
			if got, want := env[OutputsEnv], guestPath(t, sess, mountSource(t, sess, OutputsTarget)); got != want {
				t.Errorf("%s=%q, want %q", OutputsEnv, got, want)
			}
			if env["PATH"] == "" || env["LANG"] == "" {
				t.Errorf("base PATH/LANG missing: %q", res.Stdout)
			}
			// HOME and TMPDIR are usable.
			res = run(t, l, sess.ID, sh(`echo h > "$HOME/f" && echo t > "$TMPDIR/f" && cat "$HOME/f" "$TMPDIR/f"`))
			if string(res.Stdout) != "h\nt\n" {
				t.Errorf("writing HOME and TMPDIR: stdout %q stderr %q", res.Stdout, res.Stderr)
			}
		})
	}
}

func TestOnlyStdioDescriptorsReachChild(t *testing.T) {
	for _, profile := range []Profile{OSHardened, Unrestricted} {
		t.Run(string(profile), func(t *testing.T) {
			l, _ := newLocal(t)
			sess := provision(t, l, Spec{Profile: profile})
			// A descriptor the host leaked without close-on-exec.
			fd, err := unix.Open(os.DevNull, unix.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			const leaked = 77
			if err := unix.Dup2(fd, leaked); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(leaked)
			if flags, err := unix.FcntlInt(uintptr(leaked), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC != 0 {
				t.Fatalf("fd %d should be inheritable: flags %d, %v", leaked, flags, err)
			}
			res := run(t, l, sess.ID, ExecRequest{Command: "ls", Args: []string{"/proc/self/fd"}})
			fds := strings.Fields(string(res.Stdout))
			slices.Sort(fds)
			// ls itself holds the directory it lists as 3.
			if !slices.Equal(fds, []string{"0", "1", "2", "3"}) {
				t.Fatalf("child descriptors %v (stderr %q), want 0 1 2 and ls's own 3; leaked fd was %d", fds, res.Stderr, leaked)
			}
		})
	}
}

func TestExitCodeAndCwd(t *testing.T) {
	for _, view := range []ViewMode{ViewHost, ViewAuto} {
		t.Run(viewName(view), func(t *testing.T) {
			l, _ := newLocalWith(t, LocalConfig{View: view})
			sess := provision(t, l, Spec{})
			res := run(t, l, sess.ID, sh("echo err >&2; exit 7"))
			if res.ExitCode != 7 || string(res.Stderr) != "err\n" || res.Success() {
				t.Fatalf("exit %d stderr %q success %v", res.ExitCode, res.Stderr, res.Success())
			}
			// The host's view runs commands at host paths; the session's
			// own at guest paths.
			workdir, outputs := sess.Workdir, mountSource(t, sess, OutputsTarget)
			if hasView(sess) {
				workdir, outputs = WorkdirTarget, OutputsTarget
			}
			res = run(t, l, sess.ID, ExecRequest{Command: "pwd"})
			if strings.TrimSpace(string(res.Stdout)) != workdir {
				t.Errorf("default cwd %q, want the workdir %s", res.Stdout, workdir)
			}
			res = run(t, l, sess.ID, ExecRequest{Command: "pwd", Cwd: OutputsTarget})
			if got := strings.TrimSpace(string(res.Stdout)); got != outputs {
				t.Errorf("cwd %s ran in %q, want %s", OutputsTarget, got, outputs)
			}
			if err := os.Mkdir(filepath.Join(sess.Workdir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			res = run(t, l, sess.ID, ExecRequest{Command: "pwd", Cwd: "sub"})
			if got := strings.TrimSpace(string(res.Stdout)); got != filepath.Join(workdir, "sub") {
				t.Errorf("relative cwd ran in %q, want %s", got, filepath.Join(workdir, "sub"))
			}
		})
	}
}

// A command given as a relative path ("./tool") names a file relative to
// the command's cwd, as it would in a shell.
func TestRelativeCommandPathResolvesAgainstCwd(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	script := filepath.Join(sess.Workdir, "hello.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho script ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := l.Exec(context.Background(), sess.ID, ExecRequest{Command: "./hello.sh"})
	if err != nil {
		t.Fatalf("Exec ./hello.sh in the workdir: %v", err)
	}
	if string(res.Stdout) != "script ran\n" {
		t.Fatalf("stdout %q stderr %q", res.Stdout, res.Stderr)
	}
}
