//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux hardening (issue 6): a hostile child, run for real under the
// sandbox, tries each door the other layers leave open. Every refusal is
// judged by effect and has an admitted sibling; where the kernel would
// refuse by itself, the same call under the Unrestricted profile shows that
// the refusal comes from the sandbox.

// ---------------------------------------------------------------------------
// Child side: helper modes, run as the test binary inside the sandbox. Each
// prints name=RESULT lines, RESULT being OK or the errno's name.

func init() {
	hardeningModes["syscalls"] = helperSyscalls
	hardeningModes["tty"] = helperTTY
	hardeningModes["sockets"] = helperSockets
	hardeningModes["udp"] = helperUDP
	hardeningModes["netinfo"] = helperNetinfo
	hardeningModes["unixconnect"] = helperUnixConnect
	hardeningModes["euid"] = helperEuid
	hardeningModes["open"] = helperOpen
	hardeningModes["fsops"] = helperFsops
	hardeningModes["host"] = helperHost
}

// errName renders an error as the errno's name (EPERM), OK for nil.
func errName(err error) string {
	if err == nil {
		return "OK"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if e == 0 {
			return "OK"
		}
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return "errno" + strconv.Itoa(int(e))
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

// sysErr turns a raw syscall's errno into an error, closing the fd a
// successful call returned when isFD is set.
func sysErr(r uintptr, e syscall.Errno, isFD bool) error {
	if e != 0 {
		return e
	}
	if isFD {
		unix.Close(int(r))
	}
	return nil
}

type probeCall struct {
	name string
	fn   func() error
}

// runProbes runs the probes named in arg (comma-separated; "all" for every
// one) in table order and prints name=RESULT for each.
func runProbes(probes []probeCall, arg string) int {
	want := map[string]bool{}
	for _, n := range strings.Split(arg, ",") {
		want[n] = true
	}
	for _, p := range probes {
		if want["all"] || want[p.name] {
			fmt.Printf("%s=%s\n", p.name, errName(p.fn()))
		}
	}
	return 0
}

const (
	addrNoRandomize   = 0x0040000 // ADDR_NO_RANDOMIZE
	personalityQuery  = 0xffffffff
	uffdUserModeOnly  = 1   // UFFD_USER_MODE_ONLY
	sysOpenTree       = 428 // same number on every architecture
	sysFsopen         = 430
	sysFchmodat2      = 452
	keySpecProcessKey = -2 // KEY_SPEC_PROCESS_KEYRING
)

// highBits is garbage for the high half of a 64-bit syscall argument the
// kernel reads as a 32-bit int (a variable, so 32-bit builds compile).
var highBits uint64 = 0xdead_beef_0000_0000

// iuintptr converts a (possibly negative) int to a syscall argument.
func iuintptr(i int) uintptr { return uintptr(i) }

func helperSyscalls(arg string) int {
	cwd := iuintptr(unix.AT_FDCWD)
	dot, _ := unix.BytePtrFromString(".")
	tmpfs, _ := unix.BytePtrFromString("tmpfs")
	empty, _ := unix.BytePtrFromString("")
	swap, _ := unix.BytePtrFromString("/nonexistent-sandbox-swap")
	var victim uint64 = 42
	probes := []probeCall{
		// Admitted.
		{"getpid", func() error { _, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); return sysErr(0, e, false) }},
		{"socketpair", func() error {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fds[0])
				unix.Close(fds[1])
			}
			return err
		}},
		{"mkfifo", func() error {
			name := fmt.Sprintf("sbx-fifo-%d", time.Now().UnixNano())
			err := unix.Mkfifo(name, 0o600)
			if err == nil {
				if st, serr := os.Lstat(name); serr != nil || st.Mode()&os.ModeNamedPipe == 0 {
					return fmt.Errorf("mkfifo left no FIFO: %v", serr)
				}
				os.Remove(name)
			}
			return err
		}},
		{"personality_query", func() error {
			r, _, e := unix.Syscall(unix.SYS_PERSONALITY, personalityQuery, 0, 0)
			return sysErr(r, e, false)
		}},
		// Refused.
		{"io_uring_setup", func() error {
			var params [120]byte // struct io_uring_params, zeroed: a valid request
			r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
			return sysErr(r, e, true)
		}},
		{"io_uring_enter", func() error {
			r, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, iuintptr(-1), 0, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"ptrace_attach", func() error {
			r, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, 1, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"process_vm_readv", func() error {
			var buf [8]byte
			local := []unix.Iovec{{Base: &buf[0], Len: 8}}
			remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&victim)), Len: 8}}
			_, err := unix.ProcessVMReadv(1, local, remote, 0)
			return err
		}},
		{"bpf", func() error {
			var attr [128]byte // BPF_MAP_CREATE with a zeroed attribute
			r, _, e := unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
			return sysErr(r, e, true)
		}},
		{"perf_event_open", func() error {
			attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_TASK_CLOCK,
				Bits: unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv}
			attr.Size = uint32(unsafe.Sizeof(attr))
			fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"userfaultfd", func() error {
			r, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0)
			return sysErr(r, e, true)
		}},
		{"keyctl", func() error {
			r, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, iuintptr(keySpecProcessKey), 1)
			return sysErr(r, e, false)
		}},
		{"add_key", func() error {
			_, err := unix.AddKey("user", "sandbox-test", []byte("x"), keySpecProcessKey)
			return err
		}},
		{"unshare_newuser", func() error { return unix.Unshare(unix.CLONE_NEWUSER) }},
		{"setns", func() error {
			fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				fd = 0 // any fd: the filter refuses before the kernel looks at it
			} else {
				defer unix.Close(fd)
			}
			return unix.Setns(fd, unix.CLONE_NEWNET)
		}},
		{"mount", func() error {
			os.Mkdir("sbx-mnt", 0o700)
			return unix.Mount("none", "sbx-mnt", "tmpfs", 0, "")
		}},
		{"umount2", func() error { return unix.Unmount("sbx-mnt", unix.MNT_DETACH) }},
		{"pivot_root", func() error { return unix.PivotRoot(".", ".") }},
		{"open_tree", func() error {
			r, _, e := unix.Syscall(sysOpenTree, cwd, uintptr(unsafe.Pointer(dot)), 0)
			return sysErr(r, e, true)
		}},
		{"fsopen", func() error {
			r, _, e := unix.Syscall(sysFsopen, uintptr(unsafe.Pointer(tmpfs)), 0, 0)
			return sysErr(r, e, true)
		}},
		{"open_by_handle_at", func() error {
			var h struct {
				bytes uint32
				typ   int32
				data  [128]byte
			}
			h.bytes = 8
			r, _, e := unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, cwd, uintptr(unsafe.Pointer(&h)), unix.O_RDONLY)
			return sysErr(r, e, true)
		}},
		{"name_to_handle_at", func() error { _, _, err := unix.NameToHandleAt(unix.AT_FDCWD, ".", 0); return err }},
		{"personality_no_aslr", func() error {
			r, _, e := unix.Syscall(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0)
			return sysErr(r, e, false)
		}},
		{"kexec_load", func() error {
			r, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"init_module", func() error {
			r, _, e := unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(empty)))
			return sysErr(r, e, false)
		}},
		{"swapon", func() error {
			r, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(swap)), 0, 0)
			return sysErr(r, e, false)
		}},
		{"reboot", func() error {
			// Invalid magic numbers: the kernel itself answers EINVAL.
			r, _, e := unix.Syscall6(unix.SYS_REBOOT, 0, 0, 0, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"clone3", func() error {
			// A NULL, zero-sized argument: the kernel answers EINVAL.
			r, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
			return sysErr(r, e, false)
		}},
		{"clone_newuser", func() error {
			// A new user namespace needs no capability: only the filter can
			// refuse it.
			cmd := exec.Command("/bin/true")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
			return cmd.Run()
		}},
		{"socket_inet", func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
	}
	return runProbes(probes, arg)
}

// helperTTY tries terminal injection on stdin and reports its session:
// stat_pid, stat_sid and stat_tty are fields 1, 6 and 7 of /proc/self/stat
// (pids as the host's /proc counts them, so comparable), stdin the target
// of fd 0.
func helperTTY(string) int {
	c := byte('x')
	p := uintptr(unsafe.Pointer(&c))
	ioctl := func(fd int, req uintptr, arg uintptr) error {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		return sysErr(r, e, false)
	}
	var n int32
	fmt.Printf("tiocsti=%s\n", errName(ioctl(0, unix.TIOCSTI, p)))
	fmt.Printf("tiocsti_hibits=%s\n", errName(ioctl(0, uintptr(highBits)|unix.TIOCSTI, p)))
	fmt.Printf("tioclinux=%s\n", errName(ioctl(0, unix.TIOCLINUX, p)))
	// Admitted: an ordinary ioctl on the stdout pipe.
	fmt.Printf("fionread=%s\n", errName(ioctl(1, unix.TIOCINQ, uintptr(unsafe.Pointer(&n)))))
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		fmt.Printf("stat=%s\n", errName(err))
		return 1
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// fields[0] is state (field 3): session is field 6, tty_nr field 7.
	fmt.Printf("stat_pid=%s\nstat_sid=%s\nstat_tty=%s\n", strings.Fields(s)[0], fields[3], fields[4])
	sid, _ := unix.Getsid(0)
	fmt.Printf("getsid_is_getpid=%v\n", sid == unix.Getpid())
	stdin, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		stdin = errName(err)
	}
	fmt.Printf("stdin=%s\n", stdin)
	return 0
}

func helperSockets(arg string) int {
	sock := func(domain, typ, proto int) func() error {
		return func() error {
			fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}
	}
	probes := []probeCall{
		{"inet_udp", sock(unix.AF_INET, unix.SOCK_DGRAM, 0)},
		{"inet_tcp", sock(unix.AF_INET, unix.SOCK_STREAM, 0)},
		{"inet6_udp", sock(unix.AF_INET6, unix.SOCK_DGRAM, 0)},
		{"inet_raw", sock(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)},
		{"packet", sock(unix.AF_PACKET, unix.SOCK_RAW, 0x0300)}, // htons(ETH_P_ALL)
		{"netlink", sock(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)},
		{"vsock", sock(unix.AF_VSOCK, unix.SOCK_STREAM, 0)},
		{"mptcp", sock(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP)},
		{"sctp", sock(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_SCTP)},
		{"inet_hibits", func() error {
			// AF_INET with garbage in the high 32 bits: the kernel reads an
			// int, so this is AF_INET.
			r, _, e := unix.Syscall(unix.SYS_SOCKET, uintptr(highBits)|unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			return sysErr(r, e, true)
		}},
		{"socketpair_inet", func() error {
			fds, err := unix.Socketpair(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fds[0])
				unix.Close(fds[1])
			}
			return err
		}},
		{"unix_socket", sock(unix.AF_UNIX, unix.SOCK_STREAM, 0)},
		{"socketpair_unix", func() error {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fds[0])
				unix.Close(fds[1])
			}
			return err
		}},
	}
	return runProbes(probes, arg)
}

// helperUDP sends one datagram, "udp from the child", to arg (ip:port).
func helperUDP(arg string) int {
	ap, err := netip.ParseAddrPort(arg)
	if err != nil || !ap.Addr().Is4() {
		fmt.Fprintf(os.Stderr, "bad address %q\n", arg)
		return 2
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	fmt.Printf("udp_socket=%s\n", errName(err))
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	err = unix.Sendto(fd, []byte("udp from the child"), 0, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
	fmt.Printf("udp_send=%s\n", errName(err))
	return 0
}

// helperNetinfo prints the child's network namespace and its interfaces.
func helperNetinfo(string) int {
	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		ns = errName(err)
	}
	fmt.Printf("netns=%s\n", ns)
	ifaces, err := netDevices("/proc/self/net/dev")
	if err != nil {
		fmt.Printf("ifaces=%s\n", errName(err))
		return 1
	}
	fmt.Printf("ifaces=%s\n", strings.Join(ifaces, ","))
	return 0
}

// netDevices lists the interface names of a /proc/<pid>/net/dev file, sorted.
func netDevices(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		name, _, ok := strings.Cut(line, ":")
		if ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	slices.Sort(names)
	return names, nil
}

// helperUnixConnect connects to the unix socket arg (a path, or @name for
// an abstract one) and writes to it; then makes a socketpair.
func helperUnixConnect(arg string) int {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	fmt.Printf("socket=%s\n", errName(err))
	if err == nil {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: arg})
		fmt.Printf("connect=%s\n", errName(err))
		if err == nil {
			_, err = unix.Write(fd, []byte("hello from the child\n"))
			fmt.Printf("write=%s\n", errName(err))
		}
		unix.Close(fd)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		_, err = unix.Write(fds[0], []byte("x"))
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
	fmt.Printf("socketpair=%s\n", errName(err))
	return 0
}

func helperEuid(string) int {
	fmt.Printf("euid=%d\n", os.Geteuid())
	return 0
}

// helperOpen opens and reads each comma-separated path of arg.
func helperOpen(arg string) int {
	for _, p := range strings.Split(arg, ",") {
		f, err := os.Open(p)
		if err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil {
				if st.IsDir() {
					_, err = f.Readdirnames(1)
				} else {
					_, err = f.Read(make([]byte, 1))
				}
				if err == io.EOF {
					err = nil
				}
			}
			f.Close()
		}
		fmt.Printf("%s=%s\n", p, errName(err))
	}
	return 0
}

// helperFsops works in its cwd, where the test made the files x, y, z and
// w with mode 0644.
func helperFsops(string) int {
	dotX, _ := unix.BytePtrFromString("x")
	probes := []probeCall{
		{"mknod_chr", func() error { return unix.Mknod("dev", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) }},
		{"mknod_blk", func() error { return unix.Mknod("blk", unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))) }},
		{"mkfifo", func() error { return unix.Mkfifo("f", 0o644) }},
		{"chmod_suid", func() error { return unix.Chmod("x", 0o4755) }},
		{"chmod_sgid", func() error { return unix.Chmod("y", 0o2755) }},
		{"fchmod_suid", func() error {
			fd, err := unix.Open("x", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Fchmod(fd, 0o4755)
		}},
		{"fchmodat2_suid", func() error {
			r, _, e := unix.Syscall6(sysFchmodat2, iuintptr(unix.AT_FDCWD), uintptr(unsafe.Pointer(dotX)), 0o4755, 0, 0, 0)
			if e == unix.ENOSYS {
				return nil // a kernel before 6.6: nothing to check
			}
			return sysErr(r, e, false)
		}},
		{"chmod_755", func() error { return unix.Chmod("z", 0o755) }},
	}
	return runProbes(probes, "all")
}

// helperHost is a host program, run unconfined by the test as a plain
// child: it runs a sandboxed command that leaves background processes and
// prints "ready" once they are started; the test then kills it with SIGKILL.
// arg is "rootdir|marker|duration".
func helperHost(arg string) int {
	parts := strings.SplitN(arg, "|", 3)
	if len(parts) != 3 {
		fmt.Fprintf(os.Stderr, "bad argument %q\n", arg)
		return 2
	}
	l, err := NewLocal(LocalConfig{RootDir: parts[0]})
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	var spec Spec
	if !l.Capabilities().Enforcement.NetworkDenyAll.Enforced {
		spec.NetworkPolicy = AllowAll()
	}
	sess, err := l.Provision(context.Background(), spec)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	w := newSignalWriter("up\n", func() { fmt.Println("ready") })
	_, err = l.Exec(context.Background(), sess.ID, ExecRequest{
		Command: "sh",
		Args: []string{"-c", `(sh -c 'sleep "$1"; :' "$0" "$1" &); sh -c 'sleep "$1"; :' "$0" "$1" & echo up; wait`,
			parts[1], parts[2]},
		Stdout: w,
	})
	fmt.Printf("exec returned: %v\n", err)
	return 1
}

// signalWriter calls f once, when what it received contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	f    func()
	done bool
}

func newSignalWriter(want string, f func()) *signalWriter { return &signalWriter{want: want, f: f} }

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		w.f()
	}
	return len(p), nil
}

// ---------------------------------------------------------------------------
// Test side.

// results parses name=RESULT lines.
func results(out []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// runHelperIn copies the helper into the session's workdir, runs it in
// mode and returns its parsed output.
func runHelperIn(t *testing.T, l *Local, sess *Session, mode, arg string) map[string]string {
	t.Helper()
	bin := filepath.Join(sess.Workdir, "sandbox-helper.test")
	if _, err := os.Stat(bin); err != nil {
		bin = helperBinary(t, sess.Workdir)
	}
	res := run(t, l, sess.ID, helperReq(bin, mode, arg))
	if res.ExitCode != 0 {
		t.Fatalf("helper %s (%s): exit %d stdout %q stderr %q", mode, sess.Profile, res.ExitCode, res.Stdout, res.Stderr)
	}
	return results(res.Stdout)
}

// requireMechanism skips when the host lacks a kernel mechanism.
func requireMechanism(t *testing.T, what string, m Mechanism) {
	t.Helper()
	if !m.Enforced {
		t.Skipf("%s not enforced on this host: %s", what, m.Reason)
	}
}

// expect compares probe results, naming the probe and the profile.
func expect(t *testing.T, where string, got map[string]string, want map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if g := got[name]; g != want[name] {
			t.Errorf("%s: %s = %q, want %s", where, name, g, want[name])
		}
	}
}

// markedPids returns the pids whose command line contains any of marks.
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
			unix.Kill(pid, unix.SIGKILL)
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

func TestHardeningSyscallsRefusedAdmittedSiblings(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "seccomp", l.Capabilities().Enforcement.Syscalls)
	sess := provision(t, l, Spec{})
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
	free := provision(t, l, Spec{Profile: Unrestricted})
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
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "seccomp", l.Capabilities().Enforcement.Syscalls)
	sess := provision(t, l, Spec{})
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
	free := provision(t, l, Spec{Profile: Unrestricted})
	got = runHelperIn(t, l, free, "tty", "")
	expect(t, "unrestricted", got, map[string]string{
		"tiocsti": "ENOTTY", "tiocsti_hibits": "ENOTTY", "tioclinux": "ENOTTY", "fionread": "OK",
	})
}

// denyAllSession provisions a deny-all session, skipping where the host
// cannot enforce deny-all (the mechanism is named).
func denyAllSession(t *testing.T, l *Local) *Session {
	t.Helper()
	requireConfinement(t, l)
	requireMechanism(t, "deny-all network", l.Capabilities().Enforcement.NetworkDenyAll)
	sess := provision(t, l, Spec{NetworkPolicy: DenyAll()})
	if !sess.NetworkPolicy.IsDenyAll() {
		t.Fatalf("session policy %+v is not deny-all", sess.NetworkPolicy)
	}
	return sess
}

// TCP under deny-all is TestApplyNetworkPolicyChangesNextExec's.
func TestHardeningNetworkDenyAllUDP(t *testing.T) {
	l, _ := newLocal(t)
	denied := denyAllSession(t, l)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	addr := pc.LocalAddr().String()
	receive := func(wait time.Duration) string {
		pc.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 256)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}

	got := runHelperIn(t, l, denied, "udp", addr)
	if got["udp_socket"] != "EPERM" {
		t.Errorf("deny-all: udp socket = %q (send %q), want EPERM", got["udp_socket"], got["udp_send"])
	}
	if msg := receive(300 * time.Millisecond); msg != "" {
		t.Fatalf("deny-all: the listener received %q", msg)
	}

	open := provision(t, l, Spec{NetworkPolicy: AllowAll()})
	got = runHelperIn(t, l, open, "udp", addr)
	expect(t, "allow-all", got, map[string]string{"udp_socket": "OK", "udp_send": "OK"})
	if msg := receive(5 * time.Second); msg != "udp from the child" {
		t.Fatalf("allow-all: the listener received %q, want the child's datagram", msg)
	}
}

func TestHardeningNetworkDenyAllSocketFamilies(t *testing.T) {
	l, _ := newLocal(t)
	denied := denyAllSession(t, l)
	got := runHelperIn(t, l, denied, "sockets", "all")
	want := map[string]string{"socketpair_unix": "OK"}
	for _, f := range []string{"inet_udp", "inet_tcp", "inet6_udp", "inet_raw", "packet", "netlink", "vsock",
		"mptcp", "sctp", "inet_hibits", "socketpair_inet", "unix_socket"} {
		want[f] = "EPERM"
	}
	abi := l.Capabilities().Enforcement.LandlockABI
	if abi >= 9 {
		// Pathname sockets are scoped by Landlock instead: socket() works.
		want["unix_socket"] = "OK"
	}
	expect(t, "deny-all", got, want)

	// Sibling: under allow-all the same families are created (those the
	// kernel admits for a process without capabilities). AF_UNIX sockets
	// stay refused below Landlock ABI 9 under every network mode.
	open := provision(t, l, Spec{NetworkPolicy: AllowAll()})
	got = runHelperIn(t, l, open, "sockets", "all")
	expect(t, "allow-all", got, map[string]string{
		"inet_udp": "OK", "inet_tcp": "OK", "netlink": "OK", "inet_hibits": "OK", "socketpair_unix": "OK",
		"unix_socket": want["unix_socket"],
	})
	if got["socketpair_inet"] == "EPERM" {
		t.Errorf("allow-all: socketpair(AF_INET) = EPERM, want the kernel's own answer (EOPNOTSUPP)")
	}
}

func TestHardeningNetworkDenyAllEmptyNamespace(t *testing.T) {
	l, _ := newLocal(t)
	denied := denyAllSession(t, l)
	selfNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	hostIfaces, err := netDevices("/proc/self/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.Capabilities().Enforcement.NetworkDenyAll.By, "network namespace") {
		t.Skipf("no network namespace on this host (deny-all by %s)", l.Capabilities().Enforcement.NetworkDenyAll.By)
	}
	got := runHelperIn(t, l, denied, "netinfo", "")
	if got["netns"] == "" || got["netns"] == selfNS {
		t.Errorf("deny-all: the child's network namespace %q is the host's %q", got["netns"], selfNS)
	}
	if got["ifaces"] != "lo" {
		t.Errorf("deny-all: the child sees interfaces %q, want only lo", got["ifaces"])
	}
	if len(hostIfaces) < 2 {
		t.Logf("the host has only %v: the namespace comparison is the evidence", hostIfaces)
	}

	// Sibling: allow-all children share the host's namespace and see its
	// interfaces.
	open := provision(t, l, Spec{NetworkPolicy: AllowAll()})
	got = runHelperIn(t, l, open, "netinfo", "")
	if got["netns"] != selfNS || got["ifaces"] != strings.Join(hostIfaces, ",") {
		t.Errorf("allow-all: child netns %q ifaces %q, want the host's %q %q", got["netns"], got["ifaces"], selfNS, strings.Join(hostIfaces, ","))
	}
}

// accepted accepts every connection of ln until it is closed and delivers
// the first line each one sent.
func accepted(ln net.Listener) <-chan string {
	ch := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			ch <- line
		}
	}()
	return ch
}

// acceptOne waits up to wait for a connection on ch.
func acceptOne(ch <-chan string, wait time.Duration) (string, bool) {
	select {
	case got := <-ch:
		return got, true
	case <-time.After(wait):
		return "", false
	}
}

func TestHardeningUnixSocketsOutsideRefused(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "unix socket confinement", l.Capabilities().Enforcement.UnixSockets)
	abi := l.Capabilities().Enforcement.LandlockABI
	// Every network mode: allow-all is the one where only the unix socket
	// rule stands between the child and a host service.
	sess := provision(t, l, Spec{NetworkPolicy: AllowAll()})

	check := func(t *testing.T, ln net.Listener, name string) {
		conns := accepted(ln)
		got := runHelperIn(t, l, sess, "unixconnect", name)
		refused := got["socket"] == "EPERM" ||
			got["socket"] == "OK" && (got["connect"] == "EACCES" || got["connect"] == "EPERM")
		if !refused {
			t.Errorf("connect to %s: %v, want socket()=EPERM or connect()=EACCES/EPERM", name, got)
		}
		if abi < 9 && got["socket"] != "EPERM" {
			t.Errorf("Landlock ABI %d: socket(AF_UNIX) = %q, want EPERM", abi, got["socket"])
		}
		if got["socketpair"] != "OK" {
			t.Errorf("socketpair in the same run = %q, want OK", got["socketpair"])
		}
		if msg, ok := acceptOne(conns, 300*time.Millisecond); ok {
			t.Fatalf("the host service accepted a connection from the child (%q)", msg)
		}
		// Sibling: the listener works, the test's own connection reaches it.
		c, err := net.Dial("unix", name)
		if err != nil {
			t.Fatalf("the test's own connect: %v", err)
		}
		c.Write([]byte("from the test\n"))
		if msg, ok := acceptOne(conns, 5*time.Second); !ok || msg != "from the test\n" {
			t.Fatalf("the listener did not get the test's own connection: %q %v", msg, ok)
		}
		c.Close()
	}

	// listen serves a pathname socket every user may connect to, so a
	// refusal is the sandbox's doing.
	listen := func(t *testing.T, path string) net.Listener {
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		if err := os.Chmod(path, 0o777); err != nil {
			t.Fatal(err)
		}
		return ln
	}
	t.Run("pathname", func(t *testing.T) {
		path := filepath.Join(outsideDir(t), "host-service.sock")
		check(t, listen(t, path), path)
	})
	t.Run("named in the spec", func(t *testing.T) {
		// Sibling: a socket the session names is reachable.
		path := filepath.Join(outsideDir(t), "allowed.sock")
		ln := listen(t, path)
		named := provision(t, l, Spec{NetworkPolicy: AllowAll(), UnixSockets: []string{path}})
		conns := accepted(ln)
		got := runHelperIn(t, l, named, "unixconnect", path)
		if got["socket"] != "OK" || got["connect"] != "OK" {
			t.Fatalf("connect to the named socket %s: %v, want OK", path, got)
		}
		if _, ok := acceptOne(conns, 5*time.Second); !ok {
			t.Fatal("the named socket's server accepted nothing")
		}
	})
	t.Run("abstract", func(t *testing.T) {
		name := fmt.Sprintf("@sandbox-test-%d", rand.Uint64())
		ln, err := net.Listen("unix", name)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		check(t, ln, name)
	})
}

func TestHardeningProcessLifetime(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "process tree containment", l.Capabilities().Enforcement.ProcessTree)
	sess := provision(t, l, Spec{})

	// Sibling: an ordinary command runs and returns its output.
	if res := run(t, l, sess.ID, ExecRequest{Command: "echo", Args: []string{"hi"}}); string(res.Stdout) != "hi\n" {
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
		res *ExecResult
		err error
	}
	startBackground := func(t *testing.T, ctx context.Context, sess *Session) (string, string, chan outcome) {
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
		if o.res == nil || !o.res.TimedOut || o.res.Reason != ReasonCancelled {
			t.Errorf("result %+v, want TimedOut with reason %q", o.res, ReasonCancelled)
		}
		if left := markedPids(mark, dur); len(left) > 0 {
			t.Fatalf("processes left after the cancelled Exec returned: %v", left)
		}
	})

	t.Run("terminate", func(t *testing.T) {
		own := provision(t, l, Spec{})
		mark, dur, done := startBackground(t, context.Background(), own)
		if err := l.Terminate(context.Background(), own.ID); err != nil {
			t.Fatalf("Terminate: %v", err)
		}
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
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(self)
	host.Env = append(os.Environ(), helperEnv+"=host", helperArgEnv+"="+t.TempDir()+"|"+mark+"|"+dur)
	var stderr bytes.Buffer
	host.Stderr = &stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
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

	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestHardeningChildPrivileges(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "seccomp", l.Capabilities().Enforcement.Syscalls)
	caps := l.Capabilities().Enforcement
	sess := provision(t, l, Spec{})
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
	if err != nil {
		t.Fatal(err)
	}
	// Every marked process is the shell or a fork of it: all must hold.
	for _, pid := range pids {
		st := procStatus(t, strconv.Itoa(pid))
		for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
			if st[k] != "0000000000000000" {
				t.Errorf("pid %d: %s = %s, want 0", pid, k, st[k])
			}
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
			if st["CapBnd"] != "0000000000000000" {
				t.Errorf("pid %d: CapBnd = %s on a root host, want 0", pid, st["CapBnd"])
			}
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
	if err != nil {
		t.Fatalf("reading cap_last_cap: %v", err)
	}
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
	sess := provision(t, l, Spec{})
	if sess.RunAs == nil {
		t.Fatal("a root host must run commands as an unprivileged identity")
	}
	self := fmt.Sprintf("euid=%d", sess.RunAs.UID)
	euid := func(bin string) string {
		res := run(t, l, sess.ID, helperReq(bin, "euid", ""))
		return strings.TrimSpace(string(res.Stdout)) + strings.TrimSpace(string(res.Stderr))
	}
	// A set-user-ID root copy of the helper, and a plain one.
	setuidRoot := helperBinary(t, sess.Workdir)
	if err := os.Chmod(setuidRoot, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	plainDir := filepath.Join(sess.Workdir, "plain")
	if err := os.Mkdir(plainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	plain := helperBinary(t, plainDir)

	if got := euid(setuidRoot); got != self {
		t.Errorf("set-user-ID root binary in the sandbox reports %q, want %s (no_new_privs)", got, self)
	}
	if got := euid(plain); got != self {
		t.Errorf("plain binary in the sandbox reports %q, want %s", got, self)
	}
	// Sibling: run by the same identity outside the sandbox (no
	// no_new_privs), the set-user-ID bit does elevate, so it works on this
	// filesystem.
	cmd := exec.Command(setuidRoot)
	cmd.Env = []string{helperEnv + "=euid"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sess.RunAs.UID, Gid: sess.RunAs.GID, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "euid=0" {
		t.Errorf("set-user-ID root binary run by uid %d unconfined: %q, %v; want euid=0", sess.RunAs.UID, got, err)
	}
}

// /etc/shadow and /etc/passwd are TestEtcShadowRefusedPasswdAdmitted's.
func TestHardeningRootOnlySecretsUnreadable(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	sess := provision(t, l, Spec{})
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
	expect(t, "confined", got, want)
	if os.Geteuid() == 0 && slices.Contains(secrets, "/etc/gshadow") {
		// Sibling: uid 0 unconfined reads it, so EACCES above is Landlock's.
		free := provision(t, l, Spec{Profile: Unrestricted})
		expect(t, "unrestricted", runHelperIn(t, l, free, "open", "/etc/gshadow"), map[string]string{"/etc/gshadow": "OK"})
	}
}

func TestHardeningDeviceNodesAndModes(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "seccomp", l.Capabilities().Enforcement.Syscalls)
	prepare := func(sess *Session, dir string) {
		for _, f := range []string{"x", "y", "z", "w"} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\necho ran\n"), 0o644); err != nil {
				t.Fatal(err)
			}
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

	sess := provision(t, l, Spec{})
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
	free := provision(t, l, Spec{Profile: Unrestricted})
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
// refuses both on a root-owned file outside its roots; its own files in
// the workdir stay its to change.
func TestHardeningHostFileModesUnchangeable(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	if m := l.Capabilities().Enforcement.HostFileMetadata; !m.Enforced {
		// An unprivileged host can map only its own uid into the command's
		// user namespace: the OS gives no other identity to run as.
		t.Skipf("host file metadata not protected on this host: %s", m.Reason)
	}
	victim := filepath.Join(outsideDir(t), "victim")
	if err := os.WriteFile(victim, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(victim, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	sess := provision(t, l, Spec{})
	res := run(t, l, sess.ID, sh(`chmod 0666 "$1"; echo chmod=$?; touch -d 2001-01-01 "$1"; echo touch=$?`, victim))
	if !strings.Contains(string(res.Stdout), "chmod=1") || !strings.Contains(string(res.Stdout), "touch=1") {
		t.Errorf("chmod and touch of a root-owned host file: %q %q, want both refused", res.Stdout, res.Stderr)
	}
	after, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("host file changed: mode %v -> %v, mtime %v -> %v", before.Mode(), after.Mode(), before.ModTime(), after.ModTime())
	}
	// Sibling: the command's own file in the workdir.
	res = run(t, l, sess.ID, sh(`echo mine > own && chmod 0640 own && touch -d 2001-01-01 own && echo ok`))
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
	sess := provision(t, l, Spec{})
	if sess.RunAs == nil {
		// Unprivileged hosts can map only their own uid into a user
		// namespace: the OS offers no other identity to run commands as.
		t.Skip("commands run as the host's own user on an unprivileged host")
	}
	for _, d := range []string{sess.Root, sess.Workdir, mountSource(t, sess, OutputsTarget)} {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil || st.Uid != sess.RunAs.UID {
			t.Errorf("%s: owner %d (%v), want %d", d, st.Uid, err, sess.RunAs.UID)
		}
	}

	// A read-write mount the identity cannot write is refused; the same
	// directory opened to everyone is admitted.
	src := outsideDir(t)
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := l.Provision(context.Background(), Spec{Mounts: []Mount{{Source: src, Target: "/mnt/rw", Access: ReadWrite}}})
	if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), src) {
		t.Fatalf("read-write mount not writable by uid %d: %v, want ErrInvalidRequest naming it", sess.RunAs.UID, err)
	}
	if err := os.Chmod(src, 0o777); err != nil {
		t.Fatal(err)
	}
	ok := provision(t, l, Spec{Mounts: []Mount{{Source: src, Target: "/mnt/rw", Access: ReadWrite}}})
	res := run(t, l, ok.ID, sh(`echo hi > "$1/x"`, src))
	if got, _ := fileContent(t, filepath.Join(src, "x")); got != "hi\n" {
		t.Fatalf("write to the admitted mount: host file %q, stderr %q", got, res.Stderr)
	}

	// A session root below a private directory is refused, and leaves
	// nothing behind.
	private := filepath.Join(root, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	l2, err := NewLocal(LocalConfig{RootDir: filepath.Join(private, "sessions")})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(private, "sessions")); err != nil || st.Mode().Perm() != 0o711 {
		t.Fatalf("NewLocal made RootDir %v (%v), want mode 0711", st.Mode(), err)
	}
	if _, err := l2.Provision(context.Background(), Spec{}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("session root under a 0700 directory: %v, want ErrInvalidRequest", err)
	}
	assertEmptyDir(t, filepath.Join(private, "sessions"))
}
