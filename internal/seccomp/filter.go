package seccomp

import "syscall"

// Linux errno and constant values, written out so this file builds on every
// OS (syscall's constants differ off Linux). They are the same on amd64 and
// arm64.
const (
	errEPERM  = syscall.Errno(1)
	errENOSYS = syscall.Errno(38)

	afUnix  = 1  // AF_UNIX
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6
	// The socket type is its low four bits; SOCK_NONBLOCK and SOCK_CLOEXEC
	// ride above them.
	sockTypeMask = 0xf
	sockStream   = 1 // SOCK_STREAM

	ptraceTraceme = 0  // PTRACE_TRACEME
	ptraceDetach  = 17 // PTRACE_DETACH

	tiocsti   = 0x5412 // TIOCSTI: push bytes into a terminal's input queue
	tioclinux = 0x541c // TIOCLINUX: among others, paste the console selection

	sIFMT  = 0o170000 // S_IFMT
	sIFCHR = 0o020000 // S_IFCHR
	sIFBLK = 0o060000 // S_IFBLK
	sISUID = 0o4000   // S_ISUID
	sISGID = 0o2000   // S_ISGID

	// CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|
	// CLONE_NEWPID|CLONE_NEWNET, and CLONE_NEWTIME (0x80). For clone() the
	// low byte is the exit signal (CSIGNAL) and 0x80 is not CLONE_NEWTIME
	// there, but no valid signal has that bit (signals stop at 64), so
	// including it refuses only calls the kernel would refuse anyway.
	cloneNamespaces = 0x7e020080

	// personality(2) values admitted, as in Docker's default profile:
	// PER_LINUX (0), PER_LINUX32 (8, uname reports a 32-bit machine),
	// UNAME26 (0x20000, uname reports 2.6.x) and their union; and
	// 0xffffffff, which only queries. Everything else is refused, notably
	// ADDR_NO_RANDOMIZE (turns off ASLR for what the child execs),
	// READ_IMPLIES_EXEC (makes every readable mapping executable) and
	// MMAP_PAGE_ZERO (maps page 0, helping NULL-dereference exploits).
	personalityFlagsOK = 0x20008
	personalityQuery   = 0xffffffff
)

// Options selects the variable parts of the filter.
type Options struct {
	// DenyNetwork refuses socket() and socketpair() in every domain but
	// AF_UNIX with EPERM (the domain is compared on its low 32 bits, as the
	// kernel reads an int). This covers TCP, UDP, raw, packet, netlink,
	// vsock, MPTCP, SCTP alike.
	DenyNetwork bool
	// StreamOnly admits TCP: socket() in AF_INET and AF_INET6 with type
	// SOCK_STREAM, besides AF_UNIX; every other domain, and UDP, raw and
	// every other type in the internet domains, get EPERM. It is the
	// syscall layer of a per-host allow-list, where the only peer a
	// command can reach is the filtering proxy: DNS and other UDP stay
	// refused. It has no effect with DenyNetwork.
	StreamOnly bool
	// DenyUnixSocketCreation refuses socket(AF_UNIX, ...) with EPERM and
	// keeps socketpair(AF_UNIX, ...), which has no path and reaches nothing
	// outside. Used when Landlock cannot scope connecting to pathname unix
	// sockets (ABI < 9), so that a command cannot talk to docker.sock, an
	// SSH agent or D-Bus.
	DenyUnixSocketCreation bool
	// AllowedCloneNamespaces are the CLONE_NEW* flags clone() may carry;
	// a clone with any other namespace flag gets EPERM. The filter governs
	// the spawner thread too, which clones the child into its namespaces
	// (root: PID and network; unprivileged: user, PID and network), and
	// the child inherits the same allowance: a capability-less child gets
	// EPERM from the kernel for every namespace but a user namespace, so
	// CLONE_NEWUSER is the one that matters, and it is admitted only on
	// unprivileged hosts, where the spawner needs it.
	// unshare and setns stay refused either way.
	AllowedCloneNamespaces uint32
}

// Rules returns the sandbox's filter for o. Every refusal is an errno (see
// the package doc); names an architecture lacks are skipped by the compilers.
func Rules(o Options) []Rule {
	eperm := ActErrno(errEPERM)
	var rules []Rule
	deny := func(names ...string) {
		for _, n := range names {
			rules = append(rules, Rule{Syscall: n, Action: eperm})
		}
	}

	// io_uring runs operations (open, connect, socket, ...) from kernel
	// workers where seccomp never sees them, and it has been a steady
	// source of kernel bugs.
	deny("io_uring_setup", "io_uring_enter", "io_uring_register")

	// Reading and writing other processes: ptrace and its relatives. Only
	// PTRACE_TRACEME (the child asks to be stopped at exec, which the
	// library uses to apply rlimits) and PTRACE_DETACH (the spawner lets it
	// go) are allowed, matched on all 64 bits because the kernel reads the
	// request as a long.
	rules = append(rules,
		Rule{Syscall: "ptrace", Cond: []ArgCond{ArgEq(0, ptraceTraceme)}, Action: ActAllow},
		Rule{Syscall: "ptrace", Cond: []ArgCond{ArgEq(0, ptraceDetach)}, Action: ActAllow},
		Rule{Syscall: "ptrace", Action: eperm},
	)
	deny("process_vm_readv", "process_vm_writev", "pidfd_getfd")

	// Kernel attack surface with no use in a build or test command: BPF
	// programs, perf events, userfaultfd (used to win kernel races).
	deny("bpf", "perf_event_open", "userfaultfd")

	// Replacing or extending the running kernel.
	deny("kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module")

	// The mount table, old and new API: a new mount could lay a writable
	// tree over a path Landlock granted read-only, or reach hidden ones.
	deny("mount", "umount2", "open_tree", "open_tree_attr", "move_mount",
		"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "pivot_root", "chroot")

	// Host administration: swap, reboot, accounting, quotas, the clock,
	// the kernel log (kernel addresses), the terminal, legacy loaders.
	deny("swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd",
		"settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
		"syslog", "vhangup", "lookup_dcookie", "nfsservctl", "uselib")

	// Raw port I/O (amd64 only).
	deny("iopl", "ioperm")

	// The kernel keyring holds other sessions' secrets of the same user.
	deny("keyctl", "add_key", "request_key")

	// Opening files by handle bypasses path-based checks (Landlock).
	deny("open_by_handle_at", "name_to_handle_at")

	// personality: allow only the harmless personas (see personalityFlagsOK),
	// compared on 32 bits like the kernel's unsigned int.
	rules = append(rules,
		Rule{Syscall: "personality", Cond: []ArgCond{ArgMaskedEq32(0, ^uint32(personalityFlagsOK), 0)}, Action: ActAllow},
		Rule{Syscall: "personality", Cond: []ArgCond{ArgEq32(0, personalityQuery)}, Action: ActAllow},
		Rule{Syscall: "personality", Action: eperm},
	)

	// Namespaces: a new user namespace hands the child a full capability set
	// over fresh namespaces (and much more kernel code to attack); setns
	// could enter another one. unshare is refused whatever its flags
	// (unsharing only CLONE_FILES/CLONE_FS is rare in tools); clone is
	// refused only with a namespace flag, and not at all when the spawner
	// needs those flags itself.
	deny("unshare", "setns")
	if refused := uint32(cloneNamespaces) &^ o.AllowedCloneNamespaces; refused != 0 {
		rules = append(rules, Rule{Syscall: "clone",
			Cond: []ArgCond{ArgMaskedNe32(0, refused, 0)}, Action: eperm})
	}
	// clone3 keeps its flags in user memory, out of the filter's reach:
	// ENOSYS makes libc fall back to clone.
	rules = append(rules, Rule{Syscall: "clone3", Action: ActErrno(errENOSYS)})

	// Device nodes: a char or block device node in a writable directory
	// would give raw access to disks or memory. FIFOs (mkfifo), sockets and
	// regular files stay allowed. The mode is a umode_t in the kernel, so
	// the low 32 bits are all there is to compare.
	for _, d := range []uint32{sIFCHR, sIFBLK} {
		rules = append(rules,
			Rule{Syscall: "mknod", Cond: []ArgCond{ArgMaskedEq32(1, sIFMT, d)}, Action: eperm},
			Rule{Syscall: "mknodat", Cond: []ArgCond{ArgMaskedEq32(2, sIFMT, d)}, Action: eperm},
		)
	}

	// Set-user-ID and set-group-ID bits. no_new_privs keeps them from
	// elevating the sandbox, but Landlock (up to ABI 9) does not mediate
	// chmod: on a root host the command is uid 0 without capabilities and
	// owns the host's system files, so chmod u+s on one of them would
	// elevate every host user who runs it. Any mode with S_ISUID or S_ISGID
	// is refused; ordinary modes (chmod +x in the workspace) pass.
	for _, c := range []struct {
		name string
		arg  uint
	}{{"chmod", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2}} {
		rules = append(rules, Rule{Syscall: c.name, Cond: []ArgCond{ArgMaskedNe32(c.arg, sISUID|sISGID, 0)}, Action: eperm})
	}

	// Terminal injection: TIOCSTI types into the terminal the host reads,
	// TIOCLINUX can paste the console selection. The request is an unsigned
	// int in the kernel: compared on the low 32 bits.
	rules = append(rules,
		Rule{Syscall: "ioctl", Cond: []ArgCond{ArgEq32(1, tiocsti)}, Action: eperm},
		Rule{Syscall: "ioctl", Cond: []ArgCond{ArgEq32(1, tioclinux)}, Action: eperm},
	)

	// Sockets. io_uring (refused above) is the other way to make one.
	if o.StreamOnly && !o.DenyNetwork {
		for _, domain := range []uint32{afInet, afInet6} {
			rules = append(rules, Rule{Syscall: "socket",
				Cond: []ArgCond{ArgEq32(0, domain), ArgMaskedEq32(1, sockTypeMask, sockStream)}, Action: ActAllow})
		}
		if !o.DenyUnixSocketCreation {
			rules = append(rules, Rule{Syscall: "socket", Cond: []ArgCond{ArgEq32(0, afUnix)}, Action: ActAllow})
		}
		rules = append(rules,
			Rule{Syscall: "socket", Action: eperm},
			Rule{Syscall: "socketpair", Cond: []ArgCond{ArgNe32(0, afUnix)}, Action: eperm})
		return rules
	}
	switch {
	case o.DenyNetwork && o.DenyUnixSocketCreation:
		deny("socket")
	case o.DenyNetwork:
		rules = append(rules, Rule{Syscall: "socket", Cond: []ArgCond{ArgNe32(0, afUnix)}, Action: eperm})
	case o.DenyUnixSocketCreation:
		rules = append(rules, Rule{Syscall: "socket", Cond: []ArgCond{ArgEq32(0, afUnix)}, Action: eperm})
	}
	if o.DenyNetwork {
		rules = append(rules, Rule{Syscall: "socketpair", Cond: []ArgCond{ArgNe32(0, afUnix)}, Action: eperm})
	}
	return rules
}
