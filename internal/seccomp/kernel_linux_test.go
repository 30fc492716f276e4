package seccomp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/go-sandbox/sandbox/internal/seccomp/internal/int80"
	"golang.org/x/sys/unix"
)

// The kernel tests re-run the test binary as a helper (like os/exec's
// tests): the helper confines one of its threads and reports what happened.
// The `go test` process itself is never confined.
const (
	helperEnv   = "SECCOMP_TEST_HELPER" // "filter", "none", "int80", "sleep"
	helperOpts  = "SECCOMP_TEST_OPTS"   // "deny-network" or ""
	helperDir   = "SECCOMP_TEST_DIR"    // a writable directory for mknod
	helperInt80 = "SECCOMP_TEST_INT80"  // "1" when int $0x80 works here
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// helperMain runs in the re-executed test binary.
func helperMain(mode string) int {
	switch mode {
	case "sleep":
		time.Sleep(time.Minute)
		return 0
	case "int80":
		fmt.Printf("int80_getpid=%d\npid=%d\n", int80.Getpid(), os.Getpid())
		return 0
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if err := helperCalls(out, mode == "filter"); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	return 0
}

func helperCalls(out *bufio.Writer, filter bool) error {
	// A process to try PTRACE_ATTACH on: our own child, which root (or
	// Yama scope 0) may trace without the filter.
	sleeper := exec.Command(os.Args[0])
	sleeper.Env = append(os.Environ(), helperEnv+"=sleep")
	if err := sleeper.Start(); err != nil {
		return err
	}
	defer func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
	}()

	// Another locked thread that stays unconfined.
	otherTid := make(chan int)
	release := make(chan struct{})
	defer close(release)
	go func() {
		runtime.LockOSThread()
		otherTid <- unix.Gettid()
		<-release
	}()
	other := <-otherTid

	// The confined thread: a fresh goroutine, locked and never unlocked
	// (the runtime destroys the thread when it exits).
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		done <- confinedCalls(out, filter, other, sleeper.Process.Pid)
	}()
	return <-done
}

func confinedCalls(out *bufio.Writer, filter bool, otherTid, sleeperPid int) error {
	report := func(name string, e syscall.Errno) { fmt.Fprintf(out, "%s=%d\n", name, int(e)) }
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	tid := unix.Gettid()
	if filter {
		var o Options
		if os.Getenv(helperOpts) == "deny-network" {
			o.DenyNetwork = true
		}
		prog, err := Compile(Rules(o), runtime.GOARCH)
		if err != nil {
			return err
		}
		if err := Install(prog); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "filtered_tid=%d\nother_tid=%d\n", tid, otherTid)

	var params [120]byte // struct io_uring_params
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	report("io_uring_setup", e)
	if e == 0 {
		unix.Close(int(fd))
	}

	fd, _, e = unix.Syscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	report("socket_inet", e)
	if e == 0 {
		unix.Close(int(fd))
	}
	fd, _, e = unix.Syscall(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	report("socket_unix", e)
	if e == 0 {
		unix.Close(int(fd))
	}
	var pair [2]int32
	_, _, e = unix.Syscall6(unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, uintptr(unsafe.Pointer(&pair)), 0, 0)
	report("socketpair_unix", e)
	if e == 0 {
		unix.Close(int(pair[0]))
		unix.Close(int(pair[1]))
	}

	// stdin is /dev/null: without the filter these fail with ENOTTY.
	c := byte('x')
	_, _, e = unix.Syscall(unix.SYS_IOCTL, 0, uintptr(0xffffffff00000000|uint64(unix.TIOCSTI)), uintptr(unsafe.Pointer(&c)))
	report("ioctl_tiocsti_high", e)
	var n int32
	_, _, e = unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	report("ioctl_fionread", e)

	pid, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	report("getpid", e)
	fmt.Fprintf(out, "getpid_value=%d\n", pid)

	_, _, e = unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, uintptr(sleeperPid), 0, 0, 0, 0)
	report("ptrace_attach", e)

	// Go processes are multithreaded, so the kernel would say EINVAL.
	_, _, e = unix.Syscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	report("unshare_newuser", e)
	// CLONE_THREAD with CLONE_NEWUSER is invalid: the kernel says EINVAL,
	// so nothing is ever cloned here, with or without the filter.
	_, _, e = unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_THREAD, 0, 0, 0, 0, 0)
	report("clone_newuser", e)
	// A zero size is EINVAL for the kernel.
	_, _, e = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	report("clone3", e)

	cur, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	report("personality_query", e)
	_, _, e = unix.Syscall(unix.SYS_PERSONALITY, cur|0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0)
	report("personality_no_aslr", e)

	dir := os.Getenv(helperDir)
	mknod := func(name string, mode uint32) syscall.Errno {
		p, err := unix.BytePtrFromString(filepath.Join(dir, name))
		if err != nil {
			panic(err)
		}
		atFDCWD := unix.AT_FDCWD
		_, _, e := unix.Syscall6(unix.SYS_MKNODAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)), uintptr(mode), uintptr(unix.Mkdev(1, 3)), 0, 0)
		return e
	}
	report("mknod_chr", mknod("null", unix.S_IFCHR|0o600))
	report("mknod_fifo", mknod("fifo", unix.S_IFIFO|0o600))

	if os.Getenv(helperInt80) == "1" {
		fmt.Fprintf(out, "int80_getpid=%d\n", int80.Getpid())
	}

	// Which threads carry a filter.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, task := range tasks {
		status, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if err != nil {
			return err
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
				fmt.Fprintf(out, "task_%s_seccomp=%s\n", task.Name(), strings.TrimSpace(v))
			}
		}
	}
	return nil
}

// runHelper runs the test binary in helper mode and parses its key=value
// output.
func runHelper(t *testing.T, mode string, env ...string) (map[string]string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = nil // /dev/null: never a terminal TIOCSTI could type into
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	kv := map[string]string{}
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	if err != nil {
		return kv, fmt.Errorf("helper %s: %w; stderr: %s", mode, err, stderr.String())
	}
	return kv, nil
}

// int80Works reports whether this kernel runs i386 syscalls from a 64-bit
// process, and why not.
func int80Works(t *testing.T) (bool, string) {
	if !int80.Supported {
		return false, "int $0x80 is amd64 only"
	}
	kv, err := runHelper(t, "int80")
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
			return false, "kernel lacks IA32 emulation (int $0x80 faulted): " + err.Error()
		}
		t.Fatal(err)
	}
	if kv["int80_getpid"] != kv["pid"] {
		return false, fmt.Sprintf("int $0x80 getpid returned %s, pid is %s: no IA32 emulation", kv["int80_getpid"], kv["pid"])
	}
	return true, ""
}

func TestKernelFilter(t *testing.T) {
	ia32, why := int80Works(t)
	int80Env := helperInt80 + "=0"
	if ia32 {
		int80Env = helperInt80 + "=1"
	}
	eperm := strconv.Itoa(int(unix.EPERM))
	run := func(mode, opts string) map[string]string {
		t.Helper()
		kv, err := runHelper(t, mode, helperOpts+"="+opts, helperDir+"="+t.TempDir(), int80Env)
		if err != nil {
			t.Fatal(err)
		}
		return kv
	}

	t.Run("deny-network", func(t *testing.T) {
		kv := run("filter", "deny-network")
		want := map[string]string{
			"io_uring_setup":      eperm,
			"socket_inet":         eperm,
			"socket_unix":         "0",
			"socketpair_unix":     "0",
			"ioctl_tiocsti_high":  eperm,
			"ioctl_fionread":      strconv.Itoa(int(unix.ENOTTY)), // admitted: the kernel answers
			"getpid":              "0",
			"ptrace_attach":       eperm,
			"unshare_newuser":     eperm,
			"clone_newuser":       eperm,
			"clone3":              strconv.Itoa(int(unix.ENOSYS)),
			"personality_query":   "0",
			"personality_no_aslr": eperm,
			"mknod_chr":           eperm,
			"mknod_fifo":          "0",
		}
		checkResults(t, kv, want)
		checkOneThreadFiltered(t, kv)
		if ia32 {
			if got := kv["int80_getpid"]; got != "-"+eperm {
				t.Errorf("i386 getpid through int $0x80: got %s, want -%s", got, eperm)
			}
		} else {
			t.Logf("i386 int $0x80 case not run: %s", why)
		}
	})

	t.Run("network-open", func(t *testing.T) {
		kv := run("filter", "")
		checkResults(t, kv, map[string]string{
			"socket_inet":    "0",
			"socket_unix":    "0",
			"io_uring_setup": eperm,
			"ptrace_attach":  eperm,
		})
	})

	// The same calls with no filter: what the kernel itself answers, so
	// that the refusals above are the filter's doing.
	t.Run("no-filter", func(t *testing.T) {
		kv := run("none", "")
		checkResults(t, kv, map[string]string{
			"socket_inet":        "0",
			"socket_unix":        "0",
			"ioctl_tiocsti_high": strconv.Itoa(int(unix.ENOTTY)),
			"unshare_newuser":    strconv.Itoa(int(unix.EINVAL)),
			"clone_newuser":      strconv.Itoa(int(unix.EINVAL)),
			"clone3":             strconv.Itoa(int(unix.EINVAL)),
			"mknod_fifo":         "0",
		})
		if os.Geteuid() == 0 {
			// Root may make device nodes and trace its own child.
			checkResults(t, kv, map[string]string{"mknod_chr": "0", "ptrace_attach": "0"})
		}
		if ia32 && kv["int80_getpid"] != kv["getpid_value"] {
			t.Errorf("unfiltered int $0x80 getpid = %s, want %s", kv["int80_getpid"], kv["getpid_value"])
		}
		for k, v := range kv {
			if strings.HasPrefix(k, "task_") && v != "0" {
				t.Errorf("%s = %s without a filter", k, v)
			}
		}
	})
}

func checkResults(t *testing.T, kv, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got, ok := kv[k]; !ok {
			t.Errorf("%s: not reported", k)
		} else if got != w {
			t.Errorf("%s: errno %s, want %s", k, got, w)
		}
	}
}

// checkOneThreadFiltered requires Seccomp: 2 on the confined thread and 0 on
// every other thread of the helper, the other locked one included.
func checkOneThreadFiltered(t *testing.T, kv map[string]string) {
	t.Helper()
	filtered, other := kv["filtered_tid"], kv["other_tid"]
	var tasks int
	for k, v := range kv {
		tid, ok := strings.CutPrefix(k, "task_")
		if !ok {
			continue
		}
		tid = strings.TrimSuffix(tid, "_seccomp")
		tasks++
		want := "0"
		if tid == filtered {
			want = "2"
		}
		if v != want {
			t.Errorf("thread %s: Seccomp %s, want %s (filtered thread %s)", tid, v, want, filtered)
		}
	}
	if _, ok := kv["task_"+filtered+"_seccomp"]; !ok {
		t.Errorf("filtered thread %s not listed", filtered)
	}
	if kv["task_"+other+"_seccomp"] != "0" {
		t.Errorf("other locked thread %s: Seccomp %q, want 0", other, kv["task_"+other+"_seccomp"])
	}
	if tasks < 3 {
		t.Errorf("only %d threads seen", tasks)
	}
}
