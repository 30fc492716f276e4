package sandbox_test

// Hardening: syscalls, the terminal, capabilities and set-user-ID programs.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seccompSession provisions a confined session, skipping where the host
// has no syscall filter.
func seccompSession(t *testing.T) (*sandbox.Local, *sandbox.Session) {
	t.Helper()
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "seccomp", l.Capabilities().Enforcement.Syscalls)
	return l, provision(t, l, sandbox.Spec{})
}

func TestHardeningSyscallsRefusedAdmittedSiblings(t *testing.T) {
	l, sess := seccompSession(t)
	got := runHelperIn(t, l, sess, "syscalls", "all")
	want := map[string]string{
		"getpid": "OK", "socketpair": "OK", "mkfifo": "OK", "personality_query": "OK",
		"clone3": "ENOSYS",
	}
	for _, name := range []string{
		"io_uring_setup", "io_uring_enter", "ptrace_attach", "process_vm_readv", "bpf", "perf_event_open",
		"userfaultfd", "keyctl", "add_key", "unshare_newuser", "setns", "mount", "umount2", "pivot_root",
		"open_tree", "fsopen", "open_by_handle_at", "name_to_handle_at", "personality_no_aslr",
		"kexec_load", "init_module", "swapon", "reboot",
	} {
		want[name] = "EPERM"
	}
	if sess.NetworkPolicy.IsDenyAll() {
		want["socket_inet"] = "EPERM"
	}
	// clone with CLONE_NEWUSER: refused on a root host; admitted on an
	// unprivileged one, whose spawner clones the child into a user
	// namespace under the same filter (documented in the README).
	if strings.Contains(l.Capabilities().Enforcement.Privileges.By, "empty bounding") {
		want["clone_newuser"] = "EPERM"
	} else {
		t.Logf("unprivileged host: clone(CLONE_NEWUSER) in the child = %s (admitted by design)", got["clone_newuser"])
	}
	expect(t, "confined", got, want)
	if _, err := os.Stat(filepath.Join(sess.Workdir, "sbx-mnt")); err != nil {
		t.Errorf("the mount point the child made is missing: %v", err)
	}

	// The same calls unconfined: the kernel itself admits them (or answers
	// something other than EPERM), so the refusals above are the sandbox's.
	free := provision(t, l, sandbox.Spec{Profile: sandbox.Unrestricted})
	got = runHelperIn(t, l, free, "syscalls",
		"getpid,socketpair,mkfifo,personality_query,io_uring_setup,io_uring_enter,personality_no_aslr,socket_inet,clone3,keyctl,add_key,name_to_handle_at,clone_newuser")
	want = map[string]string{
		"getpid": "OK", "socketpair": "OK", "mkfifo": "OK", "personality_query": "OK",
		"io_uring_enter": "EBADF", "personality_no_aslr": "OK", "socket_inet": "OK", "clone3": "EINVAL",
		"keyctl": "OK", "add_key": "OK",
	}
	if os.Geteuid() == 0 {
		// Unprivileged user namespaces may be switched off by the host.
		want["clone_newuser"] = "OK"
	}
	switch v := strings.TrimSpace(readFileOr("/proc/sys/kernel/io_uring_disabled", "0")); {
	case v == "0" || v == "1" && os.Geteuid() == 0:
		want["io_uring_setup"] = "OK"
	default:
		t.Logf("kernel.io_uring_disabled=%s: io_uring_setup is refused by the kernel itself, unconfined %s", v, got["io_uring_setup"])
	}
	expect(t, "unrestricted", got, want)
	if g := got["name_to_handle_at"]; g == "EPERM" {
		t.Errorf("unrestricted: name_to_handle_at = EPERM; the kernel should admit it or say the filesystem cannot (EOPNOTSUPP)")
	}
}

func readFileOr(path, fallback string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	return string(b)
}

func TestHardeningTerminalInjectionAndSession(t *testing.T) {
	l, sess := seccompSession(t)
	got := runHelperIn(t, l, sess, "tty", "")
	expect(t, "confined", got, map[string]string{
		"tiocsti": "EPERM", "tiocsti_hibits": "EPERM", "tioclinux": "EPERM", "fionread": "OK",
		"stat_tty": "0", "getsid_is_getpid": "true", "stdin": "/dev/null",
	})
	if got["stat_sid"] == "" || got["stat_sid"] != got["stat_pid"] {
		t.Errorf("confined: session %q, pid %q: the child does not lead its own session", got["stat_sid"], got["stat_pid"])
	}
	// Unconfined, stdin is /dev/null too, and the kernel answers ENOTTY:
	// the EPERM above is the filter's.
	free := provision(t, l, sandbox.Spec{Profile: sandbox.Unrestricted})
	got = runHelperIn(t, l, free, "tty", "")
	expect(t, "unrestricted", got, map[string]string{
		"tiocsti": "ENOTTY", "tiocsti_hibits": "ENOTTY", "tioclinux": "ENOTTY", "fionread": "OK",
	})
}

func TestHardeningChildPrivileges(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "seccomp", l.Capabilities().Enforcement.Syscalls)
	caps := l.Capabilities().Enforcement
	sess := provision(t, l, sandbox.Spec{})
	mark, _ := newMarks(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	up := make(chan struct{})
	go func() {
		req := sh(`echo up; sleep 30; :`, mark)
		req.Stdout = newSignalWriter("up\n", func() { close(up) })
		_, err := l.Exec(ctx, sess.ID, req)
		done <- err
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-up:
	case err := <-done:
		t.Fatalf("the command ended early: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not start")
	}
	pids := waitForPids(1, mark)
	if len(pids) == 0 {
		t.Fatal("the running child is not found in /proc")
	}
	self := procStatus(t, "self")
	selfUserNS, err := os.Readlink("/proc/self/ns/user")
	require.NoError(t, err)
	// Every marked process is the shell or a fork of it: all must hold.
	for _, pid := range pids {
		st := procStatus(t, strconv.Itoa(pid))
		for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
			assert.Equal(t, "0000000000000000", st[k], "pid %d: %s", pid, k)
		}
		// The bounding set differs by host, so the branch is on what
		// Capabilities reports. A root host empties it. An unprivileged host
		// cannot (PR_CAPBSET_DROP needs CAP_SETPCAP): without a user
		// namespace the child keeps the host's; in its own user namespace
		// the kernel gives it the full set of that namespace
		// (set_cred_user_ns), which covers nothing the host owns. Either
		// way the child holds no capability: its other sets are empty.
		userNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
		switch {
		case strings.Contains(caps.Privileges.By, "empty bounding"):
			assert.Equal(t, "0000000000000000", st["CapBnd"], "pid %d: CapBnd on a root host", pid)
		case userNS != "" && userNS != selfUserNS:
			if want := fullCapSet(t); st["CapBnd"] != want {
				t.Errorf("pid %d (user namespace %s): CapBnd = %s, want that namespace's full set %s", pid, userNS, st["CapBnd"], want)
			}
		case st["CapBnd"] != self["CapBnd"]:
			t.Errorf("pid %d: CapBnd = %s, want the host's inherited %s", pid, st["CapBnd"], self["CapBnd"])
		}
		if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
			t.Errorf("pid %d: NoNewPrivs %q Seccomp %q, want 1 and 2", pid, st["NoNewPrivs"], st["Seccomp"])
		}
	}
	// Sibling: the test process itself holds none of that.
	if self["NoNewPrivs"] != "0" || self["Seccomp"] != "0" {
		t.Errorf("the test process is confined: NoNewPrivs %q Seccomp %q", self["NoNewPrivs"], self["Seccomp"])
	}
}

// fullCapSet is CapBnd with every capability the kernel knows.
func fullCapSet(t *testing.T) string {
	t.Helper()
	last, err := strconv.Atoi(strings.TrimSpace(readFileOr("/proc/sys/kernel/cap_last_cap", "")))
	require.NoError(t, err, "reading cap_last_cap")
	return fmt.Sprintf("%016x", uint64(1)<<(last+1)-1)
}

func TestHardeningSetuidDoesNotElevate(t *testing.T) {
	if os.Geteuid() != 0 {
		// Not a kernel limitation: only root can make a set-user-ID file
		// owned by another user, the one case that shows elevation.
		t.Skip("needs root to create a set-user-ID binary owned by another user")
	}
	l, _ := newLocal(t)
	requireConfinement(t, l)
	sess := provision(t, l, sandbox.Spec{})
	if sess.RunAs == nil {
		t.Fatal("a root host must run commands as an unprivileged identity")
	}
	// The command's own uid as it sees it: RunAs in the host's view, 0 of
	// its user namespace (mapped to RunAs) in a view of its own.
	self := fmt.Sprintf("euid=%d", sess.RunAs.UID)
	if hasView(sess) {
		self = "euid=0"
	}
	// euid runs bin, which creates the file named; the host reads its
	// owner: whom the command ran as, on the host.
	euid := func(bin, name string) (string, uint32) {
		file := filepath.Join(sess.Workdir, name)
		res := run(t, l, sess.ID, helperReq(t, sess, bin, "euid", guestPath(t, sess, file)))
		out := results(res.Stdout)
		var st syscall.Stat_t
		if err := syscall.Stat(file, &st); err != nil {
			t.Fatalf("%s: the helper did not create %s (%s): stdout %q stderr %q", bin, name, out["created"], res.Stdout, res.Stderr)
		}
		return "euid=" + out["euid"], st.Uid
	}
	// A set-user-ID root copy of the helper, and a plain one.
	setuidRoot := helperBinary(t, sess.Workdir)
	require.NoError(t, os.Chmod(setuidRoot, 0o755|os.ModeSetuid))
	plainDir := filepath.Join(sess.Workdir, "plain")
	require.NoError(t, os.Mkdir(plainDir, 0o755))
	plain := helperBinary(t, plainDir)

	if got, owner := euid(setuidRoot, "by-setuid"); got != self || owner != sess.RunAs.UID {
		t.Errorf("set-user-ID root binary in the sandbox reports %q and creates a file of uid %d, want %s and %d (no_new_privs)", got, owner, self, sess.RunAs.UID)
	}
	if got, owner := euid(plain, "by-plain"); got != self || owner != sess.RunAs.UID {
		t.Errorf("plain binary in the sandbox reports %q and creates a file of uid %d, want %s and %d", got, owner, self, sess.RunAs.UID)
	}
	// Sibling: run by the same identity outside the sandbox (no
	// no_new_privs), the set-user-ID bit does elevate, so it works on this
	// filesystem.
	cmd := exec.Command(setuidRoot)
	byUnconfined := filepath.Join(sess.Workdir, "by-unconfined")
	cmd.Env = []string{helperEnv + "=euid", helperArgEnv + "=" + byUnconfined}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sess.RunAs.UID, Gid: sess.RunAs.GID, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if got := results(out); err != nil || got["euid"] != "0" || got["created"] != "OK" {
		t.Errorf("set-user-ID root binary run by uid %d unconfined: %q, %v; want euid=0 and created=OK", sess.RunAs.UID, out, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(byUnconfined, &st); err != nil || st.Uid != 0 {
		t.Errorf("set-user-ID root binary run by uid %d unconfined created a file of uid %d (%v), want 0", sess.RunAs.UID, st.Uid, err)
	}
}
