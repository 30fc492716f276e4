//go:build linux

package osconfine

import (
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// probeHost learns what this host allows the library to do: whether it runs
// with the capabilities to clone namespaces itself, whether unprivileged user
// namespaces work (tried for real, since distributions restrict them in
// several different ways), and whether Yama lets a child stop at exec.
func probeHost() hostFacts {
	hostOnce.Do(func() { host = probeHostOnce() })
	return host
}

var (
	hostOnce sync.Once
	host     hostFacts
)

func probeHostOnce() hostFacts {
	h := hostFacts{capLast: -1}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) == nil {
		has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
		h.root = has(unix.CAP_SYS_ADMIN) && has(unix.CAP_SETPCAP)
	}
	if h.root {
		if n, err := strconv.Atoi(readSysctl("/proc/sys/kernel/cap_last_cap")); err == nil {
			h.capLast = n
		} else {
			h.root = false
		}
	}
	if !h.root {
		h.userNS = tryClone(unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET)
	}
	h.cgroups = findCgroups()
	h.yama = readSysctl("/proc/sys/kernel/yama/ptrace_scope")
	switch h.yama {
	case "3":
		h.ptraceStop = false
	case "2":
		h.ptraceStop = h.root
	default:
		h.ptraceStop = true
	}
	return h
}

// tryClone starts a short-lived program in the given namespaces and reports
// whether the kernel allowed it.
func tryClone(flags uintptr) bool {
	for _, path := range []string{"/bin/true", "/usr/bin/true"} {
		cmd := exec.Command(path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
		if err := cmd.Run(); err == nil {
			return true
		}
	}
	return false
}

// probe reports what the Linux adapter enforces on this host.
func probe() Support {
	h := probeHost()
	abi := landlockABI()
	s := Support{OS: "linux", LandlockABI: abi}
	if abi >= 1 {
		s.Filesystem = enforcedBy(fmt.Sprintf("Landlock ABI %d", abi))
	} else {
		s.Filesystem = notEnforced("Landlock is not available (kernel too old or LSM disabled)")
	}
	s.Syscalls = seccompSupport()
	switch {
	case !s.Filesystem.Enforced:
		s.NetworkDenyAll = notEnforced("needs Landlock")
	case !s.Syscalls.Enforced:
		s.NetworkDenyAll = notEnforced("needs seccomp to refuse non-unix sockets")
	default:
		by := "seccomp (every socket family but AF_UNIX)"
		if abi >= 4 {
			by += ", Landlock TCP rules"
		}
		if h.root || h.userNS {
			by += ", empty network namespace"
		}
		s.NetworkDenyAll = enforcedBy(by)
	}
	switch {
	case !s.NetworkDenyAll.Enforced:
		s.NetworkAllowList = notEnforced("needs what deny-all needs: " + s.NetworkDenyAll.Reason)
	case !h.root:
		s.NetworkAllowList = notEnforced("an unprivileged host cannot share a network namespace between the filtering proxy and the commands (each command gets its own inside its user namespace); a session init that owns the namespace is not built yet")
	default:
		by := "filtering proxy (HTTP CONNECT, plain HTTP, SOCKS5) listening in the session's own network namespace, which has only loopback; seccomp admits only TCP sockets (no UDP, DNS, raw)"
		if abi >= 4 {
			by += "; Landlock TCP rules admit connect to the proxy's port only"
		}
		s.NetworkAllowList = enforcedBy(by)
	}
	s.UnixSockets = unixSocketSupport(abi, s.Syscalls.Enforced)
	switch {
	case h.root:
		s.HostFileMetadata = enforcedBy(fmt.Sprintf("commands run as uid %d, which owns no host file (unless LocalConfig.RunAs says otherwise)", DefaultChildUID))
		s.ProcessTree = enforcedBy("PID namespace (init is the command) and Pdeathsig")
		s.Privileges = enforcedBy(fmt.Sprintf("no_new_privs; empty bounding, inheritable and ambient sets; runs as uid %d, not as the owner of the host's files", DefaultChildUID))
	case h.userNS:
		s.HostFileMetadata = notEnforced("commands run as the host's user and may change the mode and times of that user's files outside their roots: Landlock does not mediate chmod, chown or utimes, and an unprivileged host can map only its own uid")
		s.ProcessTree = enforcedBy("user and PID namespace (init is the command) and Pdeathsig")
		s.Privileges = enforcedBy("no_new_privs; the host's unprivileged uid; no capability over the host (the bounding set is the full set of the child's own user namespace)")
	default:
		s.HostFileMetadata = notEnforced("commands run as the host's user: Landlock does not mediate chmod, chown or utimes")
		s.ProcessTree = notEnforced("neither CAP_SYS_ADMIN nor unprivileged user namespaces: a PID namespace cannot be made")
		s.Privileges = enforcedBy("no_new_privs; unprivileged uid")
	}
	s.Limits = limitSupport(h)
	return s
}

// limitSupport says which limits are set before the first instruction.
func limitSupport(h hostFacts) LimitSupport {
	var l LimitSupport
	l.CPUCount = enforcedBy("sched_setaffinity on the spawner thread")
	if !h.ptraceStop {
		why := "Yama ptrace_scope " + h.yama + " refuses PTRACE_TRACEME, so limits cannot be set at the exec stop"
		l.Memory, l.CPUTime, l.MaxProcesses, l.MaxFileSize, l.MaxOpenFiles =
			notEnforced(why), notEnforced(why), notEnforced(why), notEnforced(why), notEnforced(why)
		return l
	}
	l.Memory = enforcedBy("RLIMIT_AS per process, set at the exec stop; the tree as a whole is not bounded")
	if h.cgroups.memParent != "" {
		l.Memory = enforcedBy("memory cgroup of the whole tree, joined at the exec stop")
	}
	l.CPUTime = enforcedBy("RLIMIT_CPU per process, set at the exec stop")
	l.MaxFileSize = enforcedBy("RLIMIT_FSIZE, set at the exec stop")
	l.MaxOpenFiles = enforcedBy("RLIMIT_NOFILE, set at the exec stop")
	if h.cgroups.pidsParent != "" {
		l.MaxProcesses = enforcedBy("pids cgroup of the whole tree, joined at the exec stop")
	} else if h.root && DefaultChildUID == 0 {
		l.MaxProcesses = notEnforced("RLIMIT_NPROC does not apply to uid 0 and no pids cgroup can be created")
	} else if h.root {
		l.MaxProcesses = enforcedBy(fmt.Sprintf("RLIMIT_NPROC of uid %d (counts all its processes), set at the exec stop", DefaultChildUID))
	} else {
		l.MaxProcesses = enforcedBy("RLIMIT_NPROC (counts every process of the host user), set at the exec stop")
	}
	return l
}
