//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Filesystem confinement under OSHardened: every rule has a refused case and
// an admitted sibling, judged by effect on the host.

func TestWriteOutsideRefusedWriteToOutputsAdmitted(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	outside := outsideDir(t)
	target := filepath.Join(outside, "pwned.txt")

	res := run(t, l, sess.ID, sh(`echo pwned > "$1"`, target))
	if _, exists := fileContent(t, target); exists {
		t.Fatalf("write outside the session was admitted: %s exists", target)
	}
	assertOutOfReach(t, sess, "write outside", res, "")
	if hasView(sess) {
		// In the view, the host path is absent; what lies outside the
		// session's directories there (the view's own root) is refused.
		res = run(t, l, sess.ID, sh(`echo pwned > /pwned.txt`))
		assertRefused(t, sess, "write to the root of the view", res, "")
	}

	res = run(t, l, sess.ID, sh(`echo admitted > "$SANDBOX_OUTPUTS_DIR/out.txt"`))
	if res.ExitCode != 0 {
		t.Fatalf("write to outputs failed: %d %q", res.ExitCode, res.Stderr)
	}
	got, ok := fileContent(t, filepath.Join(mountSource(t, sess, OutputsTarget), "out.txt"))
	if !ok || got != "admitted\n" {
		t.Fatalf("outputs file on the host = %q (exists %v), want %q", got, ok, "admitted\n")
	}
}

func TestReadOutsideRefusedSystemLibraryAdmitted(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	const secret = "sentinel-c8f1e2-outside"
	path := sentinelFile(t, secret)
	if b, err := os.ReadFile(path); err != nil || string(b) != secret {
		t.Fatalf("the test process cannot read its own sentinel: %v", err)
	}

	res := run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{path}})
	assertOutOfReach(t, sess, "read outside", res, secret)

	lib := systemLibrary(t)
	res = run(t, l, sess.ID, sh(`head -c 4 "$1"`, lib))
	if res.ExitCode != 0 || string(res.Stdout) != "\x7fELF" {
		t.Fatalf("read of system library %s: exit %d stdout %q stderr %q", lib, res.ExitCode, res.Stdout, res.Stderr)
	}
}

// systemLibrary returns a shared library of the system, found at test time.
func systemLibrary(t *testing.T) string {
	t.Helper()
	for _, pattern := range []string{
		"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6",
		"/usr/lib/*/libc.so.6", "/usr/lib64/libc.so.6", "/usr/lib/libc.so.6", "/usr/lib/*/*.so*", "/usr/lib/*.so*",
	} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if info, err := os.Stat(m); err == nil && info.Mode().IsRegular() {
				return m
			}
		}
	}
	t.Fatal("found no shared library under /usr/lib")
	return ""
}

func TestReadOnlyMountWriteRefusedReadAdmitted(t *testing.T) {
	l, _ := newLocal(t)
	src := outsideDir(t)
	file := filepath.Join(src, "ro.txt")
	require.NoError(t, os.WriteFile(file, []byte("original\n"), 0o644))
	sess := provision(t, l, Spec{Mounts: []Mount{{Source: src, Target: "/mnt/ro/", Access: ReadOnly}}})
	if got := mountSource(t, sess, "/mnt/ro"); got != src {
		t.Fatalf("read-only mount resolved to %s, want %s", got, src)
	}

	// The mount as the command sees it: the source in the host's view,
	// the target in the session's own.
	dir := guestPath(t, sess, src)
	res := run(t, l, sess.ID, sh(`echo changed > "$1"/ro.txt`, dir))
	assertRefused(t, sess, "overwrite in read-only mount", res, "")
	res = run(t, l, sess.ID, sh(`echo new > "$1"/new.txt`, dir))
	assertRefused(t, sess, "create in read-only mount", res, "")
	res = run(t, l, sess.ID, sh(`rm -f "$1"/ro.txt`, dir))
	if res.ExitCode == 0 {
		t.Errorf("rm in read-only mount exited 0")
	}
	if got, _ := fileContent(t, file); got != "original\n" {
		t.Fatalf("read-only file changed on the host: %q", got)
	}
	if _, exists := fileContent(t, filepath.Join(src, "new.txt")); exists {
		t.Fatal("a file was created in the read-only mount")
	}

	// Admitted: reading it, by the path the command sees and through the
	// guest cwd.
	res = run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{dir + "/ro.txt"}})
	if res.ExitCode != 0 || string(res.Stdout) != "original\n" {
		t.Fatalf("read of the read-only mount by path: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	res = run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{"ro.txt"}, Cwd: "/mnt/ro"})
	if res.ExitCode != 0 || string(res.Stdout) != "original\n" {
		t.Fatalf("read of the read-only mount: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

func TestSymlinkInWritableMountPointingOutsideRefused(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	out := mountSource(t, sess, OutputsTarget)
	const secret = "sentinel-symlink-9b77"
	secretPath := sentinelFile(t, secret)
	outsideD := outsideDir(t)
	inside := filepath.Join(out, "inside.txt")
	require.NoError(t, os.WriteFile(inside, []byte("inside\n"), 0o644))
	giveToSession(t, sess, inside)
	// The outside links name host paths (in a view of its own, absent);
	// the inside one names the file where the command sees it.
	for link, to := range map[string]string{"out-file": secretPath, "out-dir": outsideD, "in-file": guestPath(t, sess, inside)} {
		require.NoError(t, os.Symlink(to, filepath.Join(out, link)))
	}

	res := run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{"out-file"}, Cwd: OutputsTarget})
	assertOutOfReach(t, sess, "read through a symlink pointing outside", res, secret)
	res = run(t, l, sess.ID, ExecRequest{Command: "sh", Args: []string{"-c", "echo overwritten > out-file"}, Cwd: OutputsTarget})
	assertOutOfReach(t, sess, "write through a symlink pointing outside", res, "")
	if got, _ := fileContent(t, secretPath); got != secret {
		t.Fatalf("the outside file changed through the symlink: %q", got)
	}
	res = run(t, l, sess.ID, ExecRequest{Command: "sh", Args: []string{"-c", "echo x > out-dir/planted"}, Cwd: OutputsTarget})
	assertOutOfReach(t, sess, "create through a directory symlink pointing outside", res, "")
	if _, exists := fileContent(t, filepath.Join(outsideD, "planted")); exists {
		t.Fatal("a file was created outside through a directory symlink")
	}

	// Sibling: a symlink that stays inside works both ways.
	res = run(t, l, sess.ID, ExecRequest{Command: "sh", Args: []string{"-c", "cat in-file && echo rewritten > in-file"}, Cwd: OutputsTarget})
	if res.ExitCode != 0 || string(res.Stdout) != "inside\n" {
		t.Fatalf("symlink inside: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if got, _ := fileContent(t, inside); got != "rewritten\n" {
		t.Fatalf("write through the inside symlink: host file %q", got)
	}
}

func TestEtcShadowRefusedPasswdAdmitted(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	if _, err := os.Stat("/etc/shadow"); err == nil {
		res := run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{"/etc/shadow"}})
		assertOutOfReach(t, sess, "read /etc/shadow", res, "root:")
	} else {
		t.Log("no /etc/shadow on this host; only the admitted sibling runs")
	}
	res := run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{"/etc/passwd"}})
	if res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "root:") {
		t.Fatalf("read /etc/passwd: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

func TestHelperBinaryRunsConfined(t *testing.T) {
	l, _ := newLocal(t)
	sess := provision(t, l, Spec{})
	bin := helperBinary(t, sess.Workdir)
	res := run(t, l, sess.ID, helperReq(t, sess, bin, "hello", ""))
	if res.ExitCode != 0 || string(res.Stdout) != "helper says hello\n" {
		t.Fatalf("helper: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}
