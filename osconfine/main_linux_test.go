//go:build linux

package osconfine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary is its own child: tests that must change namespaces,
// mounts or root start it again with linuxHelperEnv naming one of
// linuxHelpers and its argument in linuxHelperArgEnv, and TestMain runs that
// helper instead of the tests. The go test process itself is never confined.
const (
	linuxHelperEnv    = "OSCONFINE_LINUX_HELPER"
	linuxHelperArgEnv = "OSCONFINE_LINUX_HELPER_ARG"
)

// linuxHelpers are filled by the test files' init functions. A helper writes
// its findings to stdout; an error makes the child exit 1.
var linuxHelpers = map[string]func(arg string) error{}

func TestMain(m *testing.M) {
	if name := os.Getenv(linuxHelperEnv); name != "" {
		h, ok := linuxHelpers[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "no linux helper %q\n", name)
			os.Exit(2)
		}
		if err := h(os.Getenv(linuxHelperArgEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sessionCloneflags are the namespaces a session init starts in.
const sessionCloneflags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// helperCommand returns exe (the test binary or a copy of it) set up to run
// helper name with arg in new session namespaces where uid and gid 0 are the
// host's uid and gid.
func helperCommand(exe, name, arg string, uid, gid int) *exec.Cmd {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), linuxHelperEnv+"="+name, linuxHelperArgEnv+"="+arg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 sessionCloneflags,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: false,
		// Without it the child keeps the host's uid, which is mapped in
		// its user namespace only if it is uid: no capabilities there.
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd
}

// runHelper runs helper name in new session namespaces and returns its
// stdout. It skips the test when this host cannot create user namespaces.
func runHelper(t *testing.T, exe, name, arg string, uid, gid int) []byte {
	t.Helper()
	cmd := helperCommand(exe, name, arg, uid, gid)
	var stderr []byte
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		stderr = ee.Stderr
	}
	if err != nil && cmd.ProcessState == nil && userNamespacesRefused(err) {
		t.Skipf("kernel feature missing: cannot create a user namespace with a PID and mount namespace: %v", err)
	}
	if err != nil {
		t.Fatalf("helper %s: %v\nstderr: %s", name, err, stderr)
	}
	return out
}

// userNamespacesRefused tells whether starting a child in new namespaces
// failed because the host disallows them (a sysctl, AppArmor, a seccomp
// profile or the user namespace limit). EACCES is not one of them: it is
// what an unreadable test binary gives.
func userNamespacesRefused(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EUSERS)
}
