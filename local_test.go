//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestAttachFilesystemTakesEffectForNextExec(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	dir := outsideDir(t)
	target := filepath.Join(dir, "attached.txt")

	res := run(t, l, sess.ID, sh(`echo before > "$1"`, target))
	assertOutOfReach(t, sess, "write before attaching", res, "")
	if hasView(sess) {
		// In the view, the mount's target does not exist yet either.
		res = run(t, l, sess.ID, sh(`echo before > /mnt/extra/attached.txt`))
		assertOutOfReach(t, sess, "write to the target before attaching", res, "")
	}
	if _, exists := fileContent(t, target); exists {
		t.Fatal("write admitted before the mount was attached")
	}

	rm, err := l.AttachFilesystem(context.Background(), sess.ID, Mount{Source: dir, Target: "/mnt/extra", Access: ReadWrite})
	if err != nil {
		t.Fatalf("AttachFilesystem: %v", err)
	}
	if rm.Source != dir || rm.Target != "/mnt/extra" || rm.Access != ReadWrite {
		t.Fatalf("resolved mount %+v", rm)
	}
	snap, err := l.Snapshot(context.Background(), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The command writes where it sees the file: the host path in the
	// host's view, below /mnt/extra in the session's own.
	res = run(t, l, sess.ID, sh(`echo after > "$1"`, guestPath(t, &snap.Session, target)))
	if got, _ := fileContent(t, target); got != "after\n" {
		t.Fatalf("write after attaching: host file %q, stderr %q", got, res.Stderr)
	}
	if mountSource(t, &snap.Session, "/mnt/extra") != dir {
		t.Fatal("snapshot does not show the attached mount")
	}
	// A duplicate target is refused and the session is unchanged.
	if _, err := l.AttachFilesystem(context.Background(), sess.ID, Mount{Target: "/mnt/extra/", Access: ReadOnly}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("duplicate attach: %v", err)
	}
}

func TestApplyNetworkPolicyChangesNextExec(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{NetworkPolicy: AllowAll()})
	bin := helperBinary(t, sess.Workdir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			received <- line
		}
	}()
	dial := helperReq(t, sess, bin, "dial", ln.Addr().String())
	expectConnection := func(what string) {
		t.Helper()
		res := run(t, l, sess.ID, dial)
		if res.ExitCode != 0 || string(res.Stdout) != "connected\n" {
			t.Fatalf("%s: exit %d stdout %q stderr %q", what, res.ExitCode, res.Stdout, res.Stderr)
		}
		select {
		case got := <-received:
			if got != "hello from the child\n" {
				t.Fatalf("%s: listener got %q", what, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the listener received nothing", what)
		}
	}
	expectConnection("unrestricted session")

	err = l.ApplyNetworkPolicy(context.Background(), sess.ID, DenyAll())
	if m := l.Capabilities().Enforcement.NetworkDenyAll; !m.Enforced {
		// The host cannot enforce deny-all: the call must say so, and the
		// session must keep its old policy.
		if !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrNetworkPolicy) {
			t.Fatalf("ApplyNetworkPolicy(DenyAll) where deny-all is not enforced (%s): err = %v, want ErrUnsupported and ErrNetworkPolicy", m.Reason, err)
		}
		expectConnection("after the refused policy change")
		return
	}
	if err != nil {
		t.Fatalf("ApplyNetworkPolicy(DenyAll): %v", err)
	}
	res := run(t, l, sess.ID, dial)
	if res.ExitCode == 0 || strings.Contains(string(res.Stdout), "connected") {
		t.Fatalf("connection admitted under deny-all: stdout %q", res.Stdout)
	}
	select {
	case got := <-received:
		t.Fatalf("the listener received %q under deny-all", got)
	case <-time.After(200 * time.Millisecond):
	}
	if err := l.ApplyNetworkPolicy(context.Background(), sess.ID, AllowAll()); err != nil {
		t.Fatal(err)
	}
	expectConnection("after allowing again")
}

// Landlock rules add up, so a read-only mount whose host path lies inside
// a writable root would be writable in fact: in the host's view it is
// refused. In a session's own view it is refused too: its files would be
// writable through the writable root's guest path.
func TestReadOnlyMountInsideWritableRootRefused(t *testing.T) {
	for _, view := range []ViewMode{ViewHost, ViewAuto} {
		t.Run(viewName(view), func(t *testing.T) {
			l, root := newLocalWith(t, LocalConfig{View: view})
			requireConfinement(t, l)
			spec := hardenedSpec(t, l, Spec{Mounts: []Mount{{Source: "work/ro", Target: "/mnt/ro", Access: ReadOnly}}})
			_, err := l.Provision(context.Background(), spec)
			var e *Error
			if !errors.Is(err, ErrInvalidRequest) || !errors.As(err, &e) {
				t.Fatalf("Provision with a read-only mount in the workdir: %v, want ErrInvalidRequest", err)
			}
			assertEmptyDir(t, root)

			// The same mount attached to a live session is refused too.
			sess := provision(t, l, Spec{})
			if _, err := l.AttachFilesystem(context.Background(), sess.ID, Mount{Source: "work/ro", Target: "/mnt/ro", Access: ReadOnly}); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("AttachFilesystem with a read-only mount in the workdir: %v, want ErrInvalidRequest", err)
			}
			// And a read-only mount inside a writable attached mount.
			rw := outsideDir(t)
			if err := os.Mkdir(filepath.Join(rw, "inner"), 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := l.AttachFilesystem(context.Background(), sess.ID, Mount{Source: rw, Target: "/mnt/rw", Access: ReadWrite}); err != nil {
				t.Fatal(err)
			}
			if _, err := l.AttachFilesystem(context.Background(), sess.ID, Mount{Source: filepath.Join(rw, "inner"), Target: "/mnt/inner", Access: ReadOnly}); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("read-only mount inside a writable mount: %v, want ErrInvalidRequest", err)
			}
			// A fresh read-only mount (empty source) is fine and read-only in fact.
			rm, err := l.AttachFilesystem(context.Background(), sess.ID, Mount{Target: "/mnt/fresh", Access: ReadOnly})
			if err != nil {
				t.Fatalf("fresh read-only mount: %v", err)
			}
			snap, err := l.Snapshot(context.Background(), sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			res := run(t, l, sess.ID, sh(`echo x > "$1"/f`, guestPath(t, &snap.Session, rm.Source)))
			assertRefused(t, sess, "write to a fresh read-only mount", res, "")
			if _, exists := fileContent(t, filepath.Join(rm.Source, "f")); exists {
				t.Fatal("a file was created in the fresh read-only mount")
			}
			// Sibling: the writable mount takes the same write.
			res = run(t, l, sess.ID, sh(`echo x > "$1"/f`, guestPath(t, &snap.Session, rw)))
			if got, _ := fileContent(t, filepath.Join(rw, "f")); got != "x\n" {
				t.Fatalf("write to the writable mount: host file %q, stderr %q", got, res.Stderr)
			}
		})
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("%s is not empty after a failed provision: %v", dir, names)
	}
}

func TestTerminateRemovesRootKeepsMountSources(t *testing.T) {
	l, _ := newLocal(t)
	src := outsideDir(t)
	keep := filepath.Join(src, "keep.txt")
	if err := os.WriteFile(keep, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	sess := provision(t, l, Spec{Mounts: []Mount{{Source: src, Target: "/mnt/host", Access: ReadWrite}}})
	if res := run(t, l, sess.ID, sh(`echo made > "$1"/made.txt`, guestPath(t, sess, src))); res.ExitCode != 0 {
		t.Fatalf("write to the host mount: exit %d stderr %q", res.ExitCode, res.Stderr)
	}

	// A running command is killed by Terminate.
	done := make(chan *ExecResult, 1)
	go func() {
		res, _ := l.Exec(context.Background(), sess.ID, ExecRequest{Command: "sleep", Args: []string{"100"}})
		done <- res
	}()
	time.Sleep(100 * time.Millisecond)
	if err := l.Terminate(context.Background(), sess.ID); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a running Exec did not return after Terminate")
	}
	if _, err := os.Stat(sess.Root); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("session root still there after Terminate: %v", err)
	}
	if got, _ := fileContent(t, keep); got != "keep" {
		t.Fatalf("Terminate touched the mount's host source: keep.txt = %q", got)
	}
	if got, _ := fileContent(t, filepath.Join(src, "made.txt")); got != "made\n" {
		t.Fatalf("a file the command made in the host mount is gone: %q", got)
	}
	if err := l.Terminate(context.Background(), sess.ID); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("second Terminate: %v, want ErrSessionNotFound", err)
	}
}

func TestUnrestrictedProfileReadsOutside(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{Profile: Unrestricted})
	if sess.Profile != Unrestricted {
		t.Fatalf("profile %q", sess.Profile)
	}
	const secret = "sentinel-unrestricted-77"
	path := sentinelFile(t, secret)
	res := run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{path}})
	if res.ExitCode != 0 || string(res.Stdout) != secret {
		t.Fatalf("unconfined read: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	// The same read under OSHardened is refused.
	hard := provision(t, l, Spec{})
	res = run(t, l, hard.ID, ExecRequest{Command: "cat", Args: []string{path}})
	assertOutOfReach(t, hard, "the same read under OSHardened", res, secret)
}

func TestSessionIDsAndDescribe(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{Labels: map[string]string{"team": "tools"}})
	if !strings.HasPrefix(string(sess.ID), "local-") || sess.State != StateRunning || sess.Backend != "local" || sess.Labels["team"] != "tools" {
		t.Fatalf("session %+v", sess)
	}
	if mountSource(t, sess, MemoryTarget) == "" || mountSource(t, sess, OutputsTarget) == "" {
		t.Fatal("canonical mounts missing")
	}
	named := provision(t, l, Spec{SessionID: "my-session_1"})
	if named.ID != "my-session_1" {
		t.Fatalf("caller-chosen id became %q", named.ID)
	}
	if _, err := l.Provision(context.Background(), hardenedSpec(t, l, Spec{SessionID: "my-session_1"})); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("second session with the same id: %v", err)
	}
	if got, err := l.Resume(context.Background(), named.ID); err != nil || got.State != StateRunning {
		t.Fatalf("Resume: %+v %v", got, err)
	}
}

// Sessions, commands (finished, timed out, refused) and failed requests
// leave no file descriptor and no goroutine behind once terminated.
func TestNothingLeftBehind(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	cycle := func() {
		sess := provision(t, l, Spec{Limits: Limits{MaxOpenFiles: 64}})
		run(t, l, sess.ID, sh(`echo out; echo err >&2`))
		run(t, l, sess.ID, ExecRequest{Command: "sleep", Args: []string{"100"}, Timeout: 50 * time.Millisecond})
		run(t, l, sess.ID, ExecRequest{Command: "cat", Stdin: []byte("in")})
		if _, err := l.Exec(context.Background(), sess.ID, ExecRequest{Command: ""}); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("empty command: %v", err)
		}
		if _, err := l.Provision(context.Background(), Spec{Mounts: []Mount{{Target: "relative", Access: ReadOnly}}}); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("bad mount: %v", err)
		}
		if err := l.Terminate(context.Background(), sess.ID); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // first use: the pidfd probe, the host probe, pooled buffers
	// No collection during the cycles: a finalizer closing a forgotten
	// *os.File would hide the leak.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	baseFDs, baseG := fds(), runtime.NumGoroutine()
	for range 10 {
		cycle()
	}
	// Spawner threads exit once their policy is closed and their children
	// are reaped; give them a bounded moment.
	deadline := time.Now().Add(5 * time.Second)
	for (fds() > baseFDs || runtime.NumGoroutine() > baseG) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := fds(); n > baseFDs {
		t.Errorf("file descriptors: %d after the cycles, %d before", n, baseFDs)
	}
	if n := runtime.NumGoroutine(); n > baseG {
		t.Errorf("goroutines: %d after the cycles, %d before", n, baseG)
	}
}
