package seccomp

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/go-sandbox/sandbox/internal/seccomp/bpfvm"
	"golang.org/x/sys/unix"
)

const (
	auditI386 = 0x40000003 // AUDIT_ARCH_I386
	auditARM  = 0x40000028 // AUDIT_ARCH_ARM
)

var (
	wantAllow  = retAllow
	wantEPERM  = ActErrno(errEPERM).Ret()
	wantENOSYS = ActErrno(errENOSYS).Ret()
)

// call is one seccomp_data input: a syscall by name on an architecture.
func call(t testing.TB, goarch, name string, args ...uint64) bpfvm.Data {
	t.Helper()
	a, err := lookupArch(goarch)
	if err != nil {
		t.Fatal(err)
	}
	nr, ok := SyscallNumber(goarch, name)
	if !ok {
		t.Fatalf("no syscall %s on %s", name, goarch)
	}
	d := bpfvm.Data{Nr: int32(nr), Arch: a.audit, InstructionPointer: 0x401000}
	copy(d.Args[:], args)
	return d
}

type decision struct {
	name string
	opts Options
	in   bpfvm.Data
	want uint32
}

// deniedEverywhere are the syscalls refused with EPERM whatever their
// arguments, on every architecture that has them.
var deniedEverywhere = []string{
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"process_vm_readv", "process_vm_writev", "pidfd_getfd",
	"bpf", "perf_event_open", "userfaultfd",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"mount", "umount2", "open_tree", "open_tree_attr", "move_mount", "fsopen", "fsconfig",
	"fsmount", "fspick", "mount_setattr", "pivot_root", "chroot",
	"swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd",
	"settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
	"syslog", "vhangup", "lookup_dcookie", "nfsservctl", "uselib", "iopl", "ioperm",
	"keyctl", "add_key", "request_key", "open_by_handle_at", "name_to_handle_at",
	"unshare", "setns",
}

// decisions is the decision table for goarch.
func decisions(t testing.TB, goarch string) []decision {
	const (
		cloneThread = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
			unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS |
			unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID
		cloneFork = unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID | uint64(unix.SIGCHLD)
		high      = 0xffffffff00000000
		atFDCWD   = 0xffffffffffffff9c // AT_FDCWD (-100) as the kernel sees it

		// personality(2) flags (linux/personality.h).
		addrNoRandomize  = 0x0040000
		readImpliesExec  = 0x0400000
		mmapPageZero     = 0x0100000
		addrCompatLayout = 0x0200000
		addrLimit32bit   = 0x0800000
	)
	var (
		deny   = Options{DenyNetwork: true}
		noUnix = Options{DenyUnixSocketCreation: true}
		both   = Options{DenyNetwork: true, DenyUnixSocketCreation: true}
		nsOK   = Options{AllowedCloneNamespaces: cloneNamespaces}
		rootNS = Options{AllowedCloneNamespaces: unix.CLONE_NEWPID | unix.CLONE_NEWNET}
	)
	c := func(name string, args ...uint64) bpfvm.Data { return call(t, goarch, name, args...) }
	var ds []decision
	add := func(name string, o Options, in bpfvm.Data, want uint32) {
		ds = append(ds, decision{name, o, in, want})
	}
	for _, n := range deniedEverywhere {
		if _, ok := SyscallNumber(goarch, n); !ok {
			continue
		}
		add(n, Options{}, c(n), wantEPERM)
		add(n+" with args", nsOK, c(n, 1, 2, 3, 4, 5, 6), wantEPERM)
	}
	add("read", Options{}, c("read", 0, 0xc000010000, 4096), wantAllow)
	add("write", both, c("write", 1, 0xc000010000, 12), wantAllow)
	add("openat", deny, c("openat", atFDCWD, 0x1000, unix.O_RDONLY), wantAllow)
	add("getpid", Options{}, c("getpid"), wantAllow)
	add("execve", Options{}, c("execve", 1, 2, 3), wantAllow)

	// clone: plain thread and fork flags pass; namespace flags only with
	// AllowedCloneNamespaces.
	add("clone thread", Options{}, c("clone", cloneThread, 0x7f0000, 1, 2, 3), wantAllow)
	add("clone fork", Options{}, c("clone", cloneFork), wantAllow)
	add("clone vfork", Options{}, c("clone", unix.CLONE_VM|unix.CLONE_VFORK|uint64(unix.SIGCHLD)), wantAllow)
	add("clone pidfd", Options{}, c("clone", unix.CLONE_PIDFD|uint64(unix.SIGCHLD)), wantAllow)
	for _, f := range []uint64{unix.CLONE_NEWUSER, unix.CLONE_NEWNET, unix.CLONE_NEWNS, unix.CLONE_NEWPID,
		unix.CLONE_NEWIPC, unix.CLONE_NEWUTS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME} {
		add(fmt.Sprintf("clone %#x", f), Options{}, c("clone", f|uint64(unix.SIGCHLD)), wantEPERM)
		add(fmt.Sprintf("clone %#x high bits", f), Options{}, c("clone", f|high), wantEPERM)
		add(fmt.Sprintf("clone %#x allowed", f), nsOK, c("clone", f|uint64(unix.SIGCHLD)), wantAllow)
	}
	add("clone NEWUSER|NEWPID|NEWNET", Options{}, c("clone", unix.CLONE_NEWUSER|unix.CLONE_NEWPID|unix.CLONE_NEWNET), wantEPERM)
	// A root host's spawner admits exactly its own flags: NEWPID|NEWNET
	// pass, NEWUSER (alone or with them) does not.
	add("clone NEWPID|NEWNET as root", rootNS, c("clone", unix.CLONE_NEWPID|unix.CLONE_NEWNET|uint64(unix.SIGCHLD)), wantAllow)
	add("clone NEWUSER as root", rootNS, c("clone", unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), wantEPERM)
	add("clone NEWUSER|NEWPID as root", rootNS, c("clone", unix.CLONE_NEWUSER|unix.CLONE_NEWPID), wantEPERM)
	add("clone3", Options{}, c("clone3", 0xc000010000, 88), wantENOSYS)
	add("clone3 allowed ns", nsOK, c("clone3", 0xc000010000, 88), wantENOSYS)

	// ptrace: TRACEME and DETACH only, on all 64 bits.
	add("ptrace TRACEME", Options{}, c("ptrace", unix.PTRACE_TRACEME), wantAllow)
	add("ptrace DETACH", Options{}, c("ptrace", unix.PTRACE_DETACH, 1234, 0, 0), wantAllow)
	add("ptrace ATTACH", Options{}, c("ptrace", unix.PTRACE_ATTACH, 1), wantEPERM)
	add("ptrace SEIZE", Options{}, c("ptrace", unix.PTRACE_SEIZE, 1), wantEPERM)
	add("ptrace PEEKDATA", Options{}, c("ptrace", unix.PTRACE_PEEKDATA, 1, 0x1000), wantEPERM)
	add("ptrace POKEUSER", Options{}, c("ptrace", unix.PTRACE_POKEUSR, 1), wantEPERM)
	add("ptrace TRACEME high bits", Options{}, c("ptrace", high|unix.PTRACE_TRACEME), wantEPERM)
	add("ptrace DETACH high bits", Options{}, c("ptrace", 1<<32|unix.PTRACE_DETACH), wantEPERM)
	add("ptrace ATTACH|1<<63", Options{}, c("ptrace", 1<<63|unix.PTRACE_ATTACH), wantEPERM)

	// personality.
	for _, p := range []uint64{0, 8, 0x20000, 0x20008, 0xffffffff, high | 0xffffffff, high} {
		add(fmt.Sprintf("personality %#x", p), Options{}, c("personality", p), wantAllow)
	}
	for _, p := range []uint64{addrNoRandomize, readImpliesExec, mmapPageZero,
		addrCompatLayout, addrLimit32bit, 0xfffffffe, 1, 8 | addrNoRandomize} {
		add(fmt.Sprintf("personality %#x", p), Options{}, c("personality", p), wantEPERM)
	}

	// Device nodes refused, FIFOs, sockets and files admitted.
	mknodWant := map[uint64]uint32{
		unix.S_IFCHR | 0o600: wantEPERM, unix.S_IFBLK | 0o600: wantEPERM,
		high | unix.S_IFCHR: wantEPERM, unix.S_IFIFO | 0o644: wantAllow,
		unix.S_IFSOCK | 0o755: wantAllow, unix.S_IFREG | 0o600: wantAllow, 0o600: wantAllow,
	}
	for mode, want := range mknodWant {
		if _, ok := SyscallNumber(goarch, "mknod"); ok {
			add(fmt.Sprintf("mknod %#o", mode), Options{}, c("mknod", 0x1000, mode, 0x103), want)
		}
		add(fmt.Sprintf("mknodat %#o", mode), Options{}, c("mknodat", atFDCWD, 0x1000, mode, 0x103), want)
	}

	// chmod: set-id bits refused, ordinary modes (and the sticky bit) admitted.
	chmodWant := map[uint64]uint32{
		0o4755: wantEPERM, 0o2755: wantEPERM, 0o6777: wantEPERM, high | 0o4000: wantEPERM,
		0o755: wantAllow, 0o644: wantAllow, 0o1777: wantAllow, high | 0o755: wantAllow,
	}
	for mode, want := range chmodWant {
		if _, ok := SyscallNumber(goarch, "chmod"); ok {
			add(fmt.Sprintf("chmod %#o", mode), Options{}, c("chmod", 0x1000, mode), want)
		}
		add(fmt.Sprintf("fchmod %#o", mode), Options{}, c("fchmod", 3, mode), want)
		add(fmt.Sprintf("fchmodat %#o", mode), both, c("fchmodat", atFDCWD, 0x1000, mode, 0), want)
		add(fmt.Sprintf("fchmodat2 %#o", mode), Options{}, c("fchmodat2", atFDCWD, 0x1000, mode, 0), want)
	}

	// Terminal injection.
	add("ioctl TIOCSTI", Options{}, c("ioctl", 0, unix.TIOCSTI, 0x1000), wantEPERM)
	add("ioctl TIOCSTI high bits", Options{}, c("ioctl", 0, high|unix.TIOCSTI, 0x1000), wantEPERM)
	add("ioctl TIOCLINUX", Options{}, c("ioctl", 0, unix.TIOCLINUX, 0x1000), wantEPERM)
	add("ioctl TIOCLINUX high bits", both, c("ioctl", 0, 1<<40|unix.TIOCLINUX, 0x1000), wantEPERM)
	add("ioctl FIONREAD (TIOCINQ)", Options{}, c("ioctl", 0, unix.TIOCINQ, 0x1000), wantAllow)
	add("ioctl TCGETS", Options{}, c("ioctl", 0, unix.TCGETS, 0x1000), wantAllow)
	add("ioctl TIOCGWINSZ", deny, c("ioctl", 1, unix.TIOCGWINSZ, 0x1000), wantAllow)

	// Sockets.
	for _, af := range []uint64{unix.AF_INET, unix.AF_INET6, unix.AF_PACKET, unix.AF_NETLINK, unix.AF_VSOCK, 0, 0x1_00000000 | unix.AF_INET} {
		add(fmt.Sprintf("socket af %#x deny", af), deny, c("socket", af, unix.SOCK_DGRAM, 0), wantEPERM)
		add(fmt.Sprintf("socketpair af %#x deny", af), deny, c("socketpair", af, unix.SOCK_STREAM, 0, 0x1000), wantEPERM)
		add(fmt.Sprintf("socket af %#x open", af), Options{}, c("socket", af, unix.SOCK_DGRAM, 0), wantAllow)
		add(fmt.Sprintf("socket af %#x nounix", af), noUnix, c("socket", af, unix.SOCK_DGRAM, 0), wantAllow)
		add(fmt.Sprintf("socket af %#x both", af), both, c("socket", af, unix.SOCK_DGRAM, 0), wantEPERM)
	}
	add("socket AF_UNIX deny", deny, c("socket", unix.AF_UNIX, unix.SOCK_STREAM, 0), wantAllow)
	add("socket AF_UNIX high bits deny", deny, c("socket", high|unix.AF_UNIX, unix.SOCK_STREAM, 0), wantAllow)
	add("socketpair AF_UNIX deny", deny, c("socketpair", unix.AF_UNIX, unix.SOCK_STREAM, 0, 0x1000), wantAllow)
	add("socket AF_UNIX open", Options{}, c("socket", unix.AF_UNIX, unix.SOCK_STREAM, 0), wantAllow)
	add("socket AF_UNIX nounix", noUnix, c("socket", unix.AF_UNIX, unix.SOCK_STREAM, 0), wantEPERM)
	add("socket AF_UNIX high bits nounix", noUnix, c("socket", high|unix.AF_UNIX, unix.SOCK_DGRAM, 0), wantEPERM)
	add("socketpair AF_UNIX nounix", noUnix, c("socketpair", unix.AF_UNIX, unix.SOCK_STREAM, 0, 0x1000), wantAllow)
	add("socket AF_UNIX both", both, c("socket", unix.AF_UNIX, unix.SOCK_STREAM, 0), wantEPERM)
	add("socketpair AF_UNIX both", both, c("socketpair", unix.AF_UNIX, unix.SOCK_STREAM, 0, 0x1000), wantAllow)

	// Proxy only: TCP in the internet domains and unix sockets; nothing else.
	stream := Options{StreamOnly: true}
	streamNoUnix := Options{StreamOnly: true, DenyUnixSocketCreation: true}
	for _, af := range []uint64{unix.AF_INET, unix.AF_INET6, high | unix.AF_INET} {
		add(fmt.Sprintf("socket af %#x TCP stream-only", af), stream, c("socket", af, unix.SOCK_STREAM, 0), wantAllow)
		add(fmt.Sprintf("socket af %#x TCP nonblock cloexec stream-only", af), stream, c("socket", af, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0), wantAllow)
		add(fmt.Sprintf("socket af %#x UDP stream-only", af), stream, c("socket", af, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0), wantEPERM)
		add(fmt.Sprintf("socket af %#x raw stream-only", af), stream, c("socket", af, unix.SOCK_RAW, 0), wantEPERM)
		add(fmt.Sprintf("socket af %#x seqpacket stream-only", af), stream, c("socket", af, unix.SOCK_SEQPACKET, 0), wantEPERM)
		add(fmt.Sprintf("socketpair af %#x stream-only", af), stream, c("socketpair", af, unix.SOCK_STREAM, 0, 0x1000), wantEPERM)
	}
	for _, af := range []uint64{unix.AF_PACKET, unix.AF_NETLINK, unix.AF_VSOCK, 0} {
		add(fmt.Sprintf("socket af %#x stream-only", af), stream, c("socket", af, unix.SOCK_STREAM, 0), wantEPERM)
	}
	add("socket AF_UNIX stream-only", stream, c("socket", unix.AF_UNIX, unix.SOCK_DGRAM, 0), wantAllow)
	add("socket AF_UNIX stream-only nounix", streamNoUnix, c("socket", unix.AF_UNIX, unix.SOCK_STREAM, 0), wantEPERM)
	add("socket AF_INET TCP stream-only nounix", streamNoUnix, c("socket", unix.AF_INET, unix.SOCK_STREAM, 0), wantAllow)
	add("socketpair AF_UNIX stream-only", streamNoUnix, c("socketpair", unix.AF_UNIX, unix.SOCK_STREAM, 0, 0x1000), wantAllow)
	add("socket AF_INET UDP stream-only with deny", Options{StreamOnly: true, DenyNetwork: true}, c("socket", unix.AF_INET, unix.SOCK_STREAM, 0), wantEPERM)

	// Foreign ABIs.
	for _, d := range []bpfvm.Data{c("getpid"), c("read"), c("ptrace", 0)} {
		for _, foreign := range []uint32{auditI386, auditARM, 0, 0xffffffff} {
			d := d
			d.Arch = foreign
			add(fmt.Sprintf("nr %d arch %#x", d.Nr, foreign), Options{}, d, wantEPERM)
		}
	}
	if goarch == "amd64" {
		// i386 getpid (20) and execve (11) through int $0x80.
		add("i386 getpid", Options{}, bpfvm.Data{Nr: 20, Arch: auditI386}, wantEPERM)
		add("i386 execve", Options{}, bpfvm.Data{Nr: 11, Arch: auditI386}, wantEPERM)
		// x32: bit 30 set on otherwise allowed numbers.
		for _, n := range []string{"read", "getpid", "openat", "execve"} {
			d := c(n)
			d.Nr |= 0x40000000
			add("x32 "+n, Options{}, d, wantEPERM)
		}
		add("x32 0x40000200", Options{}, bpfvm.Data{Nr: 0x40000200, Arch: archAMD64.audit}, wantEPERM)
		add("nr -2", Options{}, bpfvm.Data{Nr: -2, Arch: archAMD64.audit}, wantEPERM)
	}
	// nr -1 (a tracer skipping a syscall) passes on every architecture.
	add("nr -1", Options{}, bpfvm.Data{Nr: -1, Arch: c("read").Arch}, wantAllow)
	if goarch == "arm64" {
		d := c("getpid")
		d.Nr |= 0x40000000 // no x32 on arm64: an unknown number, allowed (ENOSYS from the kernel)
		add("arm64 bit 30", Options{}, d, wantAllow)
	}
	return ds
}

func runProg(t testing.TB, prog []unix.SockFilter, d bpfvm.Data) uint32 {
	t.Helper()
	got, err := bpfvm.Run(prog, d)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// vm validates prog once, for loops over many inputs.
type vm struct {
	t testing.TB
	p *bpfvm.Program
}

func load(t testing.TB, prog []unix.SockFilter) vm {
	t.Helper()
	p, err := bpfvm.Load(prog)
	if err != nil {
		t.Fatal(err)
	}
	return vm{t, p}
}

func (v vm) run(d bpfvm.Data) uint32 {
	v.t.Helper()
	got, err := v.p.Run(d)
	if err != nil {
		v.t.Fatal(err)
	}
	return got
}

var testArches = []string{"amd64", "arm64"}

// TestDecisions runs the pure-Go program in the interpreter on the table and
// checks the exact return value.
func TestDecisions(t *testing.T) {
	for _, goarch := range testArches {
		t.Run(goarch, func(t *testing.T) {
			progs := map[Options][]unix.SockFilter{}
			for _, d := range decisions(t, goarch) {
				prog, ok := progs[d.opts]
				if !ok {
					var err error
					prog, err = Compile(Rules(d.opts), goarch)
					if err != nil {
						t.Fatal(err)
					}
					progs[d.opts] = prog
				}
				if got := runProg(t, prog, d.in); got != d.want {
					t.Errorf("%s (%+v): got %#x, want %#x", d.name, d.opts, got, d.want)
				}
			}
		})
	}
}

// allOptions is every combination of Options.
func allOptions() []Options {
	var os []Options
	for i := range 24 {
		o := Options{DenyNetwork: i&1 != 0, DenyUnixSocketCreation: i&2 != 0, StreamOnly: i >= 12}
		switch (i % 12) >> 2 {
		case 1:
			o.AllowedCloneNamespaces = unix.CLONE_NEWPID | unix.CLONE_NEWNET
		case 2:
			o.AllowedCloneNamespaces = cloneNamespaces
		}
		os = append(os, o)
	}
	return os
}

// randomInput is a seccomp_data for a syscall the rules name (or a neighbour
// of one) with arguments built to hit the interesting values often.
func randomInput(r *rand.Rand, arch *archInfo, names []string) bpfvm.Data {
	d := bpfvm.Data{Arch: arch.audit, InstructionPointer: r.Uint64()}
	switch r.IntN(20) {
	case 0:
		d.Arch = []uint32{auditI386, auditARM, r.Uint32()}[r.IntN(3)]
	case 1:
		d.Nr = int32(r.Uint32())
	}
	nr, ok := arch.nums[names[r.IntN(len(names))]]
	for !ok || nr == absent {
		nr, ok = arch.nums[names[r.IntN(len(names))]]
	}
	if d.Nr == 0 {
		d.Nr = int32(nr)
		switch r.IntN(10) {
		case 0:
			d.Nr |= 0x40000000
		case 1:
			d.Nr += int32(r.IntN(5)) - 2
		case 2:
			d.Nr = int32(r.IntN(4)) - 3 // -3 to 0
		}
	}
	interesting := []uint64{0, 1, 2, 8, 10, 17, 16, 0x20000, 0x20008, 0x40000, 0xffffffff, ^uint64(0),
		0x5412, 0x541c, 0o20000, 0o60000, 0o10000, 0o170000, 0x10000000, 0x40000000, 0x80, 0x11}
	for i := range d.Args {
		var v uint64
		switch r.IntN(4) {
		case 0:
			v = r.Uint64()
		case 1:
			v = uint64(r.Uint32())
		default:
			v = interesting[r.IntN(len(interesting))]
		}
		switch r.IntN(4) {
		case 0:
			v |= r.Uint64() << 32
		case 1:
			v |= interesting[r.IntN(len(interesting))]
		}
		d.Args[i] = v
	}
	return d
}

// reference is what the program must return, computed from the rules
// directly with Decide.
func reference(rules []Rule, arch *archInfo, d bpfvm.Data) uint32 {
	if d.Arch != arch.audit || (arch.x32Bit != 0 && uint32(d.Nr) >= arch.x32Bit && d.Nr != -1) {
		return wantEPERM
	}
	for name, nr := range arch.nums {
		if nr != absent && nr == int(d.Nr) {
			return Decide(rules, name, d.Args).Ret()
		}
	}
	return retAllow
}

func ruleNames(rules []Rule) []string {
	var names []string
	for _, r := range rules {
		names = append(names, r.Syscall)
	}
	return append(names, "read", "openat", "getpid", "execve")
}

// TestCompileMatchesDecide checks the compiled program against the rules'
// reference meaning on random inputs, for every option set.
func TestCompileMatchesDecide(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, goarch := range testArches {
		arch, _ := lookupArch(goarch)
		for _, o := range allOptions() {
			rules := Rules(o)
			prog, err := Compile(rules, goarch)
			if err != nil {
				t.Fatal(err)
			}
			names := ruleNames(rules)
			v := load(t, prog)
			for range 3000 {
				d := randomInput(r, arch, names)
				if got, want := v.run(d), reference(rules, arch, d); got != want {
					t.Fatalf("%s %+v: %+v: got %#x, want %#x", goarch, o, d, got, want)
				}
			}
		}
	}
}
