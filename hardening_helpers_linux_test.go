package sandbox_test

// The hardening tests' other helper modes (run as the test binary inside the
// sandbox; each prints name=RESULT lines, RESULT being OK or the errno's
// name) and the test-side helpers that read them.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/go-sandbox/sandbox"
	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

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
		{"socketpair_inet", socketpair(unix.AF_INET)},
		{"unix_socket", sock(unix.AF_UNIX, unix.SOCK_STREAM, 0)},
		{"socketpair_unix", socketpair(unix.AF_UNIX)},
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

// helperEuid prints its effective uid as it sees it, and creates the file
// arg when given, so the caller reads on the host whom it belongs to.
func helperEuid(arg string) int {
	fmt.Printf("euid=%d\n", os.Geteuid())
	if arg != "" {
		err := os.WriteFile(arg, nil, 0o644)
		fmt.Printf("created=%s\n", errName(err))
	}
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
	l, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: parts[0]})
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	var spec sandbox.Spec
	if !l.Capabilities().Enforcement.NetworkDenyAll.Enforced {
		spec.NetworkPolicy = sandbox.AllowAll()
	}
	sess, err := l.Provision(context.Background(), spec)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	w := newSignalWriter("up\n", func() { fmt.Println("ready") })
	_, err = l.Exec(context.Background(), sess.ID, sandbox.ExecRequest{
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
func runHelperIn(t *testing.T, l *sandbox.Local, sess *sandbox.Session, mode, arg string) map[string]string {
	t.Helper()
	bin := filepath.Join(sess.Workdir, "sandbox-helper.test")
	if _, err := os.Stat(bin); err != nil {
		bin = helperBinary(t, sess.Workdir)
	}
	res := run(t, l, sess.ID, helperReq(t, sess, bin, mode, arg))
	if res.ExitCode != 0 {
		t.Fatalf("helper %s (%s): exit %d stdout %q stderr %q", mode, sess.Profile, res.ExitCode, res.Stdout, res.Stderr)
	}
	return results(res.Stdout)
}

// requireMechanism skips when the host lacks a kernel mechanism.
func requireMechanism(t *testing.T, what string, m sandbox.Mechanism) {
	t.Helper()
	if !m.Enforced {
		t.Skipf("%s not enforced on this host: %s", what, m.Reason)
	}
}

// expect compares probe results, naming the probe and the profile.
func expect(t *testing.T, where string, got map[string]string, want map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		assert.Equal(t, want[name], got[name], "%s: %s", where, name)
	}
}
