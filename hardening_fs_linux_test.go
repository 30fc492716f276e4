package sandbox_test

// Hardening: host secrets, device nodes, host file modes and the identity
// commands run as.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sandbox/sandbox"
	"github.com/stretchr/testify/require"
)

// /etc/shadow and /etc/passwd are TestEtcShadowRefusedPasswdAdmitted's.
func TestHardeningRootOnlySecretsUnreadable(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	sess := provision(t, l, sandbox.Spec{})
	var secrets []string
	for _, p := range []string{"/etc/gshadow", "/root", "/etc/ssh", "/etc/sudoers"} {
		if _, err := os.Stat(p); err == nil {
			secrets = append(secrets, p)
		}
	}
	admitted := []string{"/etc/group", "/etc/passwd"}
	got := runHelperIn(t, l, sess, "open", strings.Join(append(secrets, admitted...), ","))
	want := map[string]string{}
	for _, p := range secrets {
		want[p] = "EACCES"
	}
	for _, p := range admitted {
		want[p] = "OK"
	}
	if hasView(sess) {
		// In the session's own view, host secrets are out of sight:
		// absent (the view filters /etc and shows no /root), or refused.
		for _, p := range secrets {
			if g := got[p]; g != "ENOENT" && g != "EACCES" {
				t.Errorf("confined in a view: %s = %q, want ENOENT or EACCES", p, g)
			}
			delete(want, p)
		}
	}
	expect(t, "confined", got, want)
	if os.Geteuid() == 0 && slices.Contains(secrets, "/etc/gshadow") {
		// Sibling: uid 0 unconfined reads it, so EACCES above is Landlock's.
		free := provision(t, l, sandbox.Spec{Profile: sandbox.Unrestricted})
		expect(t, "unrestricted", runHelperIn(t, l, free, "open", "/etc/gshadow"), map[string]string{"/etc/gshadow": "OK"})
	}
}

func TestHardeningDeviceNodesAndModes(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "seccomp", l.Capabilities().Enforcement.Syscalls)
	prepare := func(sess *sandbox.Session, dir string) {
		for _, f := range []string{"x", "y", "z", "w"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\necho ran\n"), 0o644))
			os.Chmod(filepath.Join(dir, f), 0o644) // whatever the umask
			giveToSession(t, sess, filepath.Join(dir, f))
		}
	}
	mode := func(p string) (os.FileMode, bool) {
		st, err := os.Lstat(p)
		if err != nil {
			return 0, false
		}
		return st.Mode(), true
	}

	sess := provision(t, l, sandbox.Spec{})
	dir := sess.Workdir
	prepare(sess, dir)
	got := runHelperIn(t, l, sess, "fsops", "")
	expect(t, "confined", got, map[string]string{
		"mknod_chr": "EPERM", "mknod_blk": "EPERM", "chmod_suid": "EPERM", "chmod_sgid": "EPERM",
		"fchmod_suid": "EPERM", "fchmodat2_suid": "EPERM",
		"mkfifo": "OK", "chmod_755": "OK",
	})
	for _, f := range []string{"dev", "blk"} {
		if m, ok := mode(filepath.Join(dir, f)); ok {
			t.Errorf("a device node %s was created: %v", f, m)
		}
	}
	if m, ok := mode(filepath.Join(dir, "f")); !ok || m&os.ModeNamedPipe == 0 {
		t.Errorf("mkfifo: f has mode %v (exists %v), want a FIFO", m, ok)
	}
	for _, f := range []string{"x", "y"} {
		if m, _ := mode(filepath.Join(dir, f)); m != 0o644 {
			t.Errorf("%s changed mode to %v, want -rw-r--r--", f, m)
		}
	}
	if m, _ := mode(filepath.Join(dir, "z")); m != 0o755 {
		t.Errorf("chmod 755 z: mode %v, want -rwxr-xr-x", m)
	}
	// Ordinary tools: chmod +x, then run the script.
	res := run(t, l, sess.ID, sh(`chmod +x w && ./w`))
	if res.ExitCode != 0 || string(res.Stdout) != "ran\n" {
		t.Errorf("chmod +x w && ./w: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if m, _ := mode(filepath.Join(dir, "w")); m&0o111 != 0o111 {
		t.Errorf("chmod +x w: mode %v", m)
	}

	// Sibling: unconfined, the kernel admits the setuid mode (the file is
	// the user's own) and, for root, the device node.
	free := provision(t, l, sandbox.Spec{Profile: sandbox.Unrestricted})
	prepare(free, free.Workdir)
	got = runHelperIn(t, l, free, "fsops", "")
	want := map[string]string{"chmod_suid": "OK", "chmod_sgid": "OK", "mkfifo": "OK", "chmod_755": "OK"}
	if os.Geteuid() == 0 {
		want["mknod_chr"] = "OK"
	}
	expect(t, "unrestricted", got, want)
	if m, _ := mode(filepath.Join(free.Workdir, "x")); m&os.ModeSetuid == 0 {
		t.Errorf("unrestricted chmod 4755 x: mode %v, want set-user-ID", m)
	}
}

// Landlock does not mediate chmod or utimes. On a root host the command
// runs as an unprivileged identity that owns no host file, so the kernel
// refuses both on a root-owned file outside its roots, and on one inside a
// read-write mount too (which a session's own view shows it); in a view a
// host file outside the session's mounts does not exist for the command
// at all. Its own files in the workdir stay its to change.
func TestHardeningHostFileModesUnchangeable(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	if m := l.Capabilities().Enforcement.HostFileMetadata; !m.Enforced {
		// An unprivileged host can map only its own uid into the command's
		// user namespace: the OS gives no other identity to run as.
		t.Skipf("host file metadata not protected on this host: %s", m.Reason)
	}
	dir := outsideDir(t)
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("root's\n"), 0o600))
	require.NoError(t, os.Chmod(victim, 0o600))
	before, err := os.Stat(victim)
	require.NoError(t, err)
	// tryChange has a command of sess chmod and touch the victim at path
	// (where it sees it), and checks both were refused and the host file
	// is unchanged.
	tryChange := func(what string, sess *sandbox.Session, path string) string {
		t.Helper()
		res := run(t, l, sess.ID, sh(`[ -e "$1" ] && echo exists; chmod 0666 "$1"; echo chmod=$?; touch -d 2001-01-01 "$1"; echo touch=$?`, path))
		if !strings.Contains(string(res.Stdout), "chmod=1") || !strings.Contains(string(res.Stdout), "touch=1") {
			t.Errorf("%s: chmod and touch of a root-owned host file: %q %q, want both refused", what, res.Stdout, res.Stderr)
		}
		after, err := os.Stat(victim)
		require.NoError(t, err)
		if after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
			t.Errorf("%s: host file changed: mode %v -> %v, mtime %v -> %v", what, before.Mode(), after.Mode(), before.ModTime(), after.ModTime())
		}
		return string(res.Stdout)
	}
	sess := provision(t, l, sandbox.Spec{})
	tryChange("outside the roots", sess, victim)
	if sess.RunAs != nil && os.Geteuid() == 0 {
		// The same root-owned file inside a read-write mount: the command
		// reaches it (in a session's own view, only there), and it is
		// still not its identity's. (Where commands run as the host's own
		// user, the victim is that user's file, theirs to change in a
		// mount granted read-write.)
		mounted := provision(t, l, sandbox.Spec{Mounts: []sandbox.Mount{{Source: dir, Target: "/mnt/host", Access: sandbox.ReadWrite}}})
		if out := tryChange("in a read-write mount", mounted, guestPath(t, mounted, victim)); !strings.Contains(out, "exists\n") {
			t.Errorf("in a read-write mount: the command does not see the file: %q", out)
		}
	}
	// Sibling: the command's own file in the workdir.
	res := run(t, l, sess.ID, sh(`echo mine > own && chmod 0640 own && touch -d 2001-01-01 own && echo ok`))
	own, err := os.Stat(filepath.Join(sess.Workdir, "own"))
	if err != nil || res.ExitCode != 0 || own.Mode() != 0o640 || own.ModTime().Year() != 2001 {
		t.Errorf("own file: exit %d stderr %q, stat %v %v", res.ExitCode, res.Stderr, own, err)
	}
}

// On a root host commands run as an unprivileged identity: a session root
// or a mount source it cannot use is refused before anything runs, and
// what the backend creates belongs to it.
func TestRunAsIdentityMustReachItsRoots(t *testing.T) {
	l, root := newLocal(t)
	requireConfinement(t, l)
	sess := provision(t, l, sandbox.Spec{})
	if sess.RunAs == nil {
		// Unprivileged hosts can map only their own uid into a user
		// namespace: the OS offers no other identity to run commands as.
		t.Skip("commands run as the host's own user on an unprivileged host")
	}
	for _, d := range []string{sess.Root, sess.Workdir, mountSource(t, sess, sandbox.OutputsTarget)} {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil || st.Uid != sess.RunAs.UID {
			t.Errorf("%s: owner %d (%v), want %d", d, st.Uid, err, sess.RunAs.UID)
		}
	}

	// A read-write mount the identity cannot write is refused; the same
	// directory opened to everyone is admitted.
	src := outsideDir(t)
	require.NoError(t, os.Chmod(src, 0o755))
	_, err := l.Provision(context.Background(), sandbox.Spec{Mounts: []sandbox.Mount{{Source: src, Target: "/mnt/rw", Access: sandbox.ReadWrite}}})
	if !errors.Is(err, sandbox.ErrInvalidRequest) || !strings.Contains(err.Error(), src) {
		t.Fatalf("read-write mount not writable by uid %d: %v, want ErrInvalidRequest naming it", sess.RunAs.UID, err)
	}
	require.NoError(t, os.Chmod(src, 0o777))
	ok := provision(t, l, sandbox.Spec{Mounts: []sandbox.Mount{{Source: src, Target: "/mnt/rw", Access: sandbox.ReadWrite}}})
	res := run(t, l, ok.ID, sh(`echo hi > "$1/x"`, guestPath(t, ok, src)))
	if got, _ := fileContent(t, filepath.Join(src, "x")); got != "hi\n" {
		t.Fatalf("write to the admitted mount: host file %q, stderr %q", got, res.Stderr)
	}

	// A session root below a private directory is refused, and leaves
	// nothing behind.
	private := filepath.Join(root, "private")
	require.NoError(t, os.Mkdir(private, 0o700))
	l2, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: filepath.Join(private, "sessions")})
	require.NoError(t, err)
	if st, err := os.Stat(filepath.Join(private, "sessions")); err != nil || st.Mode().Perm() != 0o711 {
		t.Fatalf("NewLocal made RootDir %v (%v), want mode 0711", st.Mode(), err)
	}
	if _, err := l2.Provision(context.Background(), sandbox.Spec{}); !errors.Is(err, sandbox.ErrInvalidRequest) {
		t.Fatalf("session root under a 0700 directory: %v, want ErrInvalidRequest", err)
	}
	assertEmptyDir(t, filepath.Join(private, "sessions"))
}
