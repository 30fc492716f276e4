package sandbox

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// newLocal returns a local backend whose sessions live in a fresh temp dir,
// and that dir.
func newLocal(t *testing.T) (*Local, string) {
	t.Helper()
	root := reachableTempDir(t)
	l, err := NewLocal(LocalConfig{RootDir: root})
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	return l, root
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
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
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
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
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
		if err := os.Lchown(p, int(sess.RunAs.UID), int(sess.RunAs.GID)); err != nil {
			t.Fatal(err)
		}
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
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// sentinelFile creates a 0644 file holding content in a fresh outside dir.
func sentinelFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(outsideDir(t), "sentinel.txt")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
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
// and execute) and returns the copy's path.
func helperBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, "sandbox-helper.test")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// helperReq runs the helper binary at bin in the given mode.
func helperReq(bin, mode, arg string) ExecRequest {
	return ExecRequest{Command: bin, Env: map[string]string{helperEnv: mode, helperArgEnv: arg}}
}

// assertRefused checks that a child's attempt failed with a permission
// error and that content (which the child would have printed) is absent.
func assertRefused(t *testing.T, what string, res *ExecResult, forbidden string) {
	t.Helper()
	if forbidden != "" && strings.Contains(string(res.Stdout), forbidden) {
		t.Errorf("%s: admitted, the child printed the forbidden content: %q", what, res.Stdout)
	}
	if res.ExitCode == 0 {
		t.Errorf("%s: child exited 0; stdout %q stderr %q", what, res.Stdout, res.Stderr)
	}
	if !strings.Contains(string(res.Stderr), "Permission denied") && !strings.Contains(string(res.Stderr), "ermission denied") {
		t.Errorf("%s: expected a permission error, stderr %q", what, res.Stderr)
	}
}

// fileContent reads a host file, "" with ok false when it does not exist.
func fileContent(t *testing.T, p string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}
