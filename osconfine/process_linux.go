//go:build linux

package osconfine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// prepareProcess decides how children are cloned on this host and reads
// what confineThread and atExecStop need, since neither may open files.
func (p *Prepared) prepareProcess() error {
	h := probeHost()
	p.cgroups = h.cgroups
	switch {
	case inViewInit:
		// In a session init each child is cloned into the PID namespace of
		// a holder (see holders), which its spawner thread has joined.
		p.capLast = h.capLast
	case h.root:
		// Root clones the PID namespace directly.
		p.cloneflags = unix.CLONE_NEWPID
		p.capLast = h.capLast
	case h.userNS:
		// Unprivileged: a user namespace makes the PID namespace possible.
		// Its uid/gid maps are written during the exec stop, because a
		// landlocked thread cannot write /proc/<pid>/uid_map.
		p.cloneflags = unix.CLONE_NEWUSER | unix.CLONE_NEWPID
		p.userNS = true
	}
	if p.policy.Network == NetworkDenyAll {
		// An empty network namespace is the outer layer of deny-all. Making
		// one costs about 0.7 ms, so a root host makes it once per policy
		// and the spawner thread joins it (setns is per thread); an
		// unprivileged host can only make it together with the child's
		// user namespace, so per command.
		switch {
		case inViewInit:
			// One per session, made once: every deny-all policy of the
			// session (they change with attaches) joins the same.
			fd, err := sessionEmptyNetns()
			if err != nil {
				return fmt.Errorf("osconfine: creating an empty network namespace: %w", err)
			}
			p.netnsFD = fd
		case h.root:
			fd, err := newEmptyNetns()
			if err != nil {
				return fmt.Errorf("osconfine: creating an empty network namespace: %w", err)
			}
			p.netnsFD = fd
		case h.userNS:
			p.cloneflags |= unix.CLONE_NEWNET
		}
	}
	if p.policy.Network == NetworkAllowList {
		// The session's namespace, where its proxy listens: the spawner
		// thread joins it like the deny-all one.
		if p.policy.Namespace == nil || p.policy.ProxyPort == 0 {
			return errors.New("osconfine: an allow-list policy needs the proxy's namespace and port")
		}
		fd, err := p.policy.Namespace.n.dupFD()
		if err != nil {
			return fmt.Errorf("osconfine: the proxy's network namespace: %w", err)
		}
		p.netnsFD = fd
	}
	if n := p.policy.Limits.CPUCount; n > 0 {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return fmt.Errorf("osconfine: reading CPU affinity: %w", err)
		}
		for c := 0; c < 8*int(unsafe.Sizeof(set)) && len(p.cpus) < n; c++ {
			if set.IsSet(c) {
				p.cpus = append(p.cpus, c)
			}
		}
	}
	return nil
}

// needsExecStop reports whether children stop at exec so that work can be
// done before their first instruction.
func (p *Prepared) needsExecStop() bool {
	l := p.policy.Limits
	// A cgroup is joined at the stop too, but only with a limit set.
	return p.userNS || l.MemoryBytes > 0 || l.CPUTime > 0 || l.MaxProcesses > 0 ||
		l.MaxFileSize > 0 || l.MaxOpenFiles > 0
}

// dropThreadCapabilities empties the bounding, inheritable and ambient sets
// of the spawner thread. The thread keeps its effective set, which cloning a
// PID namespace needs; the child, executing as uid 0 with an empty bounding
// and inheritable set, gets no capability at all. Without CAP_SETPCAP
// (unprivileged host) the thread has no capability to hand down anyway.
func (p *Prepared) dropThreadCapabilities() error {
	if p.capLast < 0 {
		return nil
	}
	for c := 0; c <= p.capLast; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("osconfine: dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("osconfine: clearing ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("osconfine: reading capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("osconfine: clearing inheritable capabilities: %w", err)
	}
	return nil
}

// atExecStop runs on the spawner thread (the tracer) while the child is
// stopped at its execve, before the new program's first instruction: it
// writes the user namespace maps, applies the resource limits, and detaches.
func (p *Prepared) atExecStop(pid int, cg *execCgroup) error {
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT, nil); err != nil {
		return fmt.Errorf("osconfine: waiting for the exec stop: %w", err)
	}
	if code := siginfoCode(&info); code != cldTrapped {
		return fmt.Errorf("osconfine: child did not stop at exec (si_code %d)", code)
	}
	if p.userNS {
		// The spawner thread is landlocked and cannot write /proc; a fresh
		// goroutine runs on another, unconfined thread.
		var err error
		onHostThread(func() { err = writeIDMaps(pid) })
		if err != nil {
			return err
		}
	}
	if cg != nil {
		if err := cg.enter(pid); err != nil {
			return err
		}
	}
	if err := p.applyRlimits(pid, cg); err != nil {
		return err
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fmt.Errorf("osconfine: detaching from the child: %w", err)
	}
	return nil
}

// cldTrapped is CLD_TRAPPED: the child stopped under ptrace.
const cldTrapped = 4

// siginfoCode returns si_code from a siginfo filled in by waitid.
func siginfoCode(info *unix.Siginfo) int32 { return info.Code }

// writeIDMaps maps the host's uid and gid to themselves inside the child's
// user namespace, so that the child runs as the same unprivileged user.
func writeIDMaps(pid int) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	uid, gid := strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getegid())
	writes := []struct{ file, data string }{
		{"uid_map", uid + " " + uid + " 1"},
		{"setgroups", "deny"},
		{"gid_map", gid + " " + gid + " 1"},
	}
	for _, w := range writes {
		if err := os.WriteFile(dir+w.file, []byte(w.data), 0); err != nil {
			return fmt.Errorf("osconfine: writing %s of the child's user namespace: %w", w.file, err)
		}
	}
	return nil
}

// applyRlimits sets each configured limit on the stopped child. A limit
// never raises what the child inherited: the hard limit is at most the one
// it has, since raising needs CAP_SYS_RESOURCE.
func (p *Prepared) applyRlimits(pid int, cg *execCgroup) error {
	l := p.policy.Limits
	if cg != nil && cg.boundsMemory {
		// The memory cgroup bounds the whole tree and tells an OOM kill
		// apart; RLIMIT_AS on top would only break programs that reserve
		// address space they never touch.
		l.MemoryBytes = 0
	}
	if cg != nil && cg.boundsPids {
		l.MaxProcesses = 0 // pids.max bounds the tree, for uid 0 too
	}
	set := func(resource int, name string, v uint64) error {
		if v == 0 {
			return nil
		}
		var cur unix.Rlimit
		if err := unix.Prlimit(pid, resource, nil, &cur); err != nil {
			return fmt.Errorf("osconfine: reading %s: %w", name, err)
		}
		v = min(v, cur.Max)
		hard := v
		if resource == unix.RLIMIT_CPU && inViewInit {
			// Not init of its namespace: SIGXCPU at the soft limit reaches
			// the command (which may handle it), SIGKILL a second later.
			hard = min(v+1, cur.Max)
		}
		if err := unix.Prlimit(pid, resource, &unix.Rlimit{Cur: v, Max: hard}, nil); err != nil {
			return fmt.Errorf("osconfine: setting %s: %w", name, err)
		}
		return nil
	}
	cpuSeconds := uint64((l.CPUTime + 999_999_999) / 1_000_000_000)
	if err := set(unix.RLIMIT_AS, "RLIMIT_AS", l.MemoryBytes); err != nil {
		return err
	}
	// Soft and hard alike outside a session init: the command is init of
	// its PID namespace, and init ignores SIGXCPU (the soft limit's
	// signal) unless it handles it, so only the hard limit's SIGKILL
	// would end it.
	if err := set(unix.RLIMIT_CPU, "RLIMIT_CPU", cpuSeconds); err != nil {
		return err
	}
	if err := set(unix.RLIMIT_NPROC, "RLIMIT_NPROC", l.MaxProcesses); err != nil {
		return err
	}
	if err := set(unix.RLIMIT_FSIZE, "RLIMIT_FSIZE", l.MaxFileSize); err != nil {
		return err
	}
	return set(unix.RLIMIT_NOFILE, "RLIMIT_NOFILE", l.MaxOpenFiles)
}

// hostFacts is what probeHost learns about this host's privileges.
type hostFacts struct {
	cgroups    cgroupHost
	root       bool // CAP_SYS_ADMIN and CAP_SETPCAP in the initial user namespace
	userNS     bool // an unprivileged user may create user namespaces
	capLast    int
	ptraceStop bool // a child may PTRACE_TRACEME (Yama allows it)
	yama       string
}

// readSysctl returns the trimmed content of a /proc file, or "" if absent.
func readSysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// needsCgroup reports whether children get a cgroup of their own.
func (p *Prepared) needsCgroup() bool {
	l := p.policy.Limits
	return (l.MaxProcesses > 0 && p.cgroups.pidsParent != "") || (l.MemoryBytes > 0 && p.cgroups.memParent != "")
}

// newEmptyNetns creates a network namespace with nothing in it but a loopback
// device that is down, and returns an fd that keeps it alive. A disposable
// thread unshares into it (unshare of the network namespace is per thread)
// and dies afterwards.
func newEmptyNetns() (int, error) {
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	onDisposableThread(func() {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{-1, err}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		done <- result{fd, err}
	})
	r := <-done
	return r.fd, r.err
}

var (
	emptyNetnsOnce sync.Once
	emptyNetnsFD   int
	emptyNetnsErr  error
)

// sessionEmptyNetns returns a new descriptor of the session init's empty
// network namespace, made on first use.
func sessionEmptyNetns() (int, error) {
	emptyNetnsOnce.Do(func() { emptyNetnsFD, emptyNetnsErr = newEmptyNetns() })
	if emptyNetnsErr != nil {
		return -1, emptyNetnsErr
	}
	return unix.FcntlInt(uintptr(emptyNetnsFD), unix.F_DUPFD_CLOEXEC, 0)
}
