package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newLocal returns a local backend whose sessions live in a fresh temp dir,
// and that dir.
func newLocal(t *testing.T) (*Local, string) {
	t.Helper()
	return newLocalWith(t, LocalConfig{})
}

// newLocalWith is newLocal with cfg (its RootDir is filled in): for tests
// of a given view, such as LocalConfig{View: ViewHost} for the host view's
// semantics.
func newLocalWith(t *testing.T, cfg LocalConfig) (*Local, string) {
	t.Helper()
	cfg.RootDir = reachableTempDir(t)
	l, err := NewLocal(cfg)
	require.NoError(t, err, "NewLocal")
	return l, cfg.RootDir
}

// viewName names a ViewMode in a subtest.
func viewName(v ViewMode) string {
	if v == ViewAuto {
		return "view_auto"
	}
	return "view_" + string(v)
}

// hasView reports whether sess's commands see a view of their own (guest
// paths) rather than the host's.
func hasView(sess *Session) bool { return len(sess.Dirs) > 0 }

// guestPath is where sess's commands see the host path p (a path of the
// session's directories or mounts): p itself in the host's view.
func guestPath(t testing.TB, sess *Session, p string) string {
	t.Helper()
	g, err := sess.GuestPath(p)
	require.NoError(t, err, "GuestPath(%s)", p)
	return g
}

// requireConfinement skips when this host cannot confine a child's
// filesystem access at all (the only reason an OSHardened test may skip).
func requireConfinement(t *testing.T, l *Local) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("confinement tests are written for Linux (Landlock), not %s", runtime.GOOS)
	}
	if fs := l.Capabilities().Enforcement.Filesystem; !fs.Enforced {
		t.Skipf("Landlock not available: %s", fs.Reason)
	}
}

// hardenedSpec fills the network policy of a spec that names none. The zero
// policy denies all network access, which needs seccomp; where the host
// cannot enforce that yet, tests that are not about the network use an
// unrestricted policy so that they still exercise filesystem confinement.
func hardenedSpec(t *testing.T, l *Local, spec Spec) Spec {
	t.Helper()
	if spec.NetworkPolicy.Mode == "" && len(spec.NetworkPolicy.AllowedHosts) == 0 {
		if m := l.Capabilities().Enforcement.NetworkDenyAll; !m.Enforced {
			t.Logf("deny-all network not enforced here (%s); using an unrestricted network policy", m.Reason)
			spec.NetworkPolicy = AllowAll()
		}
	}
	return spec
}

// provision provisions a confined session (skipping without Landlock) and
// terminates it at the end of the test.
func provision(t *testing.T, l *Local, spec Spec) *Session {
	t.Helper()
	if spec.Profile != Unrestricted {
		requireConfinement(t, l)
		spec = hardenedSpec(t, l, spec)
	}
	sess, err := l.Provision(context.Background(), spec)
	require.NoError(t, err, "Provision")
	t.Cleanup(func() {
		if err := l.Terminate(context.Background(), sess.ID); err != nil && !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("Terminate: %v", err)
		}
	})
	return sess
}

// run execs req and fails the test on an error.
func run(t *testing.T, l *Local, id SessionID, req ExecRequest) *ExecResult {
	t.Helper()
	res, err := l.Exec(context.Background(), id, req)
	if err != nil {
		t.Fatalf("Exec(%s %q): %v", req.Command, req.Args, err)
	}
	return res
}

// sh is a request running script under /bin/sh with extra arguments $1...
func sh(script string, args ...string) ExecRequest {
	return ExecRequest{Command: "sh", Args: append([]string{"-c", script, "sh"}, args...)}
}

// outsideDir is a directory outside every session, world-readable, so a
// refusal inside the sandbox means something for root and for a plain user.
// It is writable by everyone, so that a refused write means the sandbox
// refused it, whatever identity the command runs as.
func outsideDir(t *testing.T) string {
	t.Helper()
	d := reachableTempDir(t)
	require.NoError(t, os.Chmod(d, 0o777))
	return d
}

// giveToSession hands files the test placed in a session to the identity
// its commands run as (on a root host, an unprivileged uid), as a caller
// would.
func giveToSession(t *testing.T, sess *Session, paths ...string) {
	t.Helper()
	if sess.RunAs == nil {
		return
	}
	for _, p := range paths {
		require.NoError(t, os.Lchown(p, int(sess.RunAs.UID), int(sess.RunAs.GID)))
	}
}

// reachableTempDir is a t.TempDir that every user can traverse and list,
// as can its parent (the test's own temp dir, which Go makes 0700): on a
// root host commands run as an unprivileged identity, which must reach the
// session roots, and a refusal test is only meaningful when plain
// permissions would admit the child.
func reachableTempDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		require.NoError(t, os.Chmod(p, 0o755))
	}
	return d
}

// sentinelFile creates a 0644 file holding content in a fresh outside dir.
func sentinelFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(outsideDir(t), "sentinel.txt")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// mountSource returns the host path of the session's mount at target.
func mountSource(t *testing.T, s *Session, target string) string {
	t.Helper()
	for _, m := range s.Mounts {
		if m.Target == target {
			return m.Source
		}
	}
	t.Fatalf("session has no mount at %s: %+v", target, s.Mounts)
	return ""
}

// helperBinary copies the test binary into dir (a root the child may read
// and execute) and returns the copy's host path; helperReq runs it.
func helperBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	in, err := os.Open(self)
	require.NoError(t, err)
	defer in.Close()
	dst := filepath.Join(dir, "sandbox-helper.test")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	require.NoError(t, err)
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	require.NoError(t, out.Close())
	return dst
}

// helperReq runs the helper binary at the host path bin (in one of sess's
// directories or mounts) in the given mode, by the path sess's commands
// see it at.
func helperReq(t testing.TB, sess *Session, bin, mode, arg string) ExecRequest {
	t.Helper()
	return ExecRequest{Command: guestPath(t, sess, bin), Env: map[string]string{helperEnv: mode, helperArgEnv: arg}}
}

// assertRefused checks that a child's attempt failed with a permission
// error and that content (which the child would have printed) is absent.
// In a session's view, a write to a read-only mount fails with EROFS (the
// view mounts it read-only), which is a refusal too.
func assertRefused(t *testing.T, sess *Session, what string, res *ExecResult, forbidden string) {
	t.Helper()
	errs := []string{"ermission denied"}
	if hasView(sess) {
		errs = append(errs, "Read-only file system")
	}
	assertFailedWith(t, what, res, forbidden, errs)
}

// assertOutOfReach checks a child's attempt on a host path outside sess:
// refused as by assertRefused in the host's view; in a view of its own the
// path is simply absent, so the attempt fails for that reason (or is
// refused). The caller checks the host file is unchanged.
func assertOutOfReach(t *testing.T, sess *Session, what string, res *ExecResult, forbidden string) {
	t.Helper()
	if !hasView(sess) {
		assertRefused(t, sess, what, res, forbidden)
		return
	}
	assertFailedWith(t, what, res, forbidden, []string{"No such file or directory", "Directory nonexistent", "ermission denied", "Read-only file system"})
}

// assertFailedWith checks that the child exited non-zero, did not print
// forbidden, and that its stderr names one of errs.
func assertFailedWith(t *testing.T, what string, res *ExecResult, forbidden string, errs []string) {
	t.Helper()
	if forbidden != "" && strings.Contains(string(res.Stdout), forbidden) {
		t.Errorf("%s: admitted, the child printed the forbidden content: %q", what, res.Stdout)
	}
	if res.ExitCode == 0 {
		t.Errorf("%s: child exited 0; stdout %q stderr %q", what, res.Stdout, res.Stderr)
	}
	for _, e := range errs {
		if strings.Contains(string(res.Stderr), e) {
			return
		}
	}
	t.Errorf("%s: expected an error naming one of %q, stderr %q", what, errs, res.Stderr)
}

// fileContent reads a host file, "" with ok false when it does not exist.
func fileContent(t *testing.T, p string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	require.NoError(t, err)
	return string(b), true
}

// markedPids returns the pids whose command line contains any of marks
// (none where there is no /proc).
func markedPids(marks ...string) []int {
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		for _, m := range marks {
			if bytes.Contains(b, []byte(m)) {
				pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(e, "/proc/"), "/cmdline"))
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// newMarks returns a marker for command lines and a unique sleep duration
// (so that a surviving sleep is found too), and kills whatever carries
// them when the test ends, so a failure leaves nothing behind.
func newMarks(t *testing.T) (mark, dur string) {
	n := time.Now().UnixNano()
	mark = fmt.Sprintf("sbxmark-%d-%d", os.Getpid(), n)
	dur = fmt.Sprintf("1000.%09d", n%1_000_000_000)
	t.Cleanup(func() {
		for _, pid := range markedPids(mark, dur) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
	return mark, dur
}

// waitForPids polls until at least n marked processes exist (up to 3 s).
func waitForPids(n int, marks ...string) []int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		pids := markedPids(marks...)
		if len(pids) >= n || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(10 * time.Millisecond)
	}
}
