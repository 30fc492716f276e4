package osconfine

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Mechanism says whether one part of a policy is enforced on this host, and
// by what. When Enforced is false, Reason says what is missing.
type Mechanism struct {
	Enforced bool   `json:"enforced"`
	By       string `json:"by,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func enforcedBy(by string) Mechanism   { return Mechanism{Enforced: true, By: by} }
func notEnforced(why string) Mechanism { return Mechanism{Reason: why} }
func (m Mechanism) String() string {
	if m.Enforced {
		return "enforced by " + m.By
	}
	return "not enforced: " + m.Reason
}

// LimitSupport reports, per resource limit, whether the host enforces it.
type LimitSupport struct {
	Memory       Mechanism `json:"memory"`
	CPUTime      Mechanism `json:"cpu_time"`
	CPUCount     Mechanism `json:"cpu_count"`
	MaxProcesses Mechanism `json:"max_processes"`
	MaxFileSize  Mechanism `json:"max_file_size"`
	MaxOpenFiles Mechanism `json:"max_open_files"`
}

// Support is what this host can enforce. [Probe] fills it in once per process.
type Support struct {
	OS string `json:"os"`
	// LandlockABI is the Landlock ABI version the Linux kernel offers (0: none).
	LandlockABI int `json:"landlock_abi,omitempty"`

	Filesystem       Mechanism `json:"filesystem"`
	NetworkDenyAll   Mechanism `json:"network_deny_all"`
	NetworkAllowList Mechanism `json:"network_allow_list"`
	UnixSockets      Mechanism `json:"unix_sockets"`
	Syscalls         Mechanism `json:"syscalls"`
	ProcessTree      Mechanism `json:"process_tree"`
	// UnrestrictedProcessTree is whether the tree of an unconfined
	// (Unrestricted) command dies with it.
	UnrestrictedProcessTree Mechanism `json:"unrestricted_process_tree"`
	Privileges              Mechanism `json:"privileges"`
	// HostFileMetadata is whether a command is kept from changing the
	// mode, owner or times of host files outside its roots (Landlock does
	// not mediate chmod, chown or utimes). It is reported, not checked:
	// no profile can opt out of it.
	HostFileMetadata Mechanism    `json:"host_file_metadata"`
	Limits           LimitSupport `json:"limits"`
	// View is whether a session can have a view of its own ([StartView]):
	// guest paths, a private /proc, an init, host files out of sight.
	View Mechanism `json:"view"`
}

// Check reports the first part of p this host cannot enforce, as an error
// wrapping ErrUnsupported that names the missing mechanism; nil when the
// whole policy is enforceable.
func (s Support) Check(p Policy) error {
	need := func(what string, m Mechanism) error {
		if m.Enforced {
			return nil
		}
		return fmt.Errorf("%w: %s: %s", ErrUnsupported, what, m.Reason)
	}
	if err := need("filesystem confinement", s.Filesystem); err != nil {
		return err
	}
	switch p.Network {
	case NetworkDenyAll:
		if err := need("deny-all network", s.NetworkDenyAll); err != nil {
			return err
		}
	case NetworkAllowList:
		if err := need("per-host network allow-list", s.NetworkAllowList); err != nil {
			return err
		}
	}
	if err := need("process tree containment", s.ProcessTree); err != nil {
		return err
	}
	l := p.Limits
	checks := []struct {
		set  bool
		name string
		m    Mechanism
	}{
		{l.MemoryBytes > 0, "memory limit", s.Limits.Memory},
		{l.CPUTime > 0, "CPU time limit", s.Limits.CPUTime},
		{l.CPUCount > 0, "CPU count limit", s.Limits.CPUCount},
		{l.MaxProcesses > 0, "process limit", s.Limits.MaxProcesses},
		{l.MaxFileSize > 0, "file size limit", s.Limits.MaxFileSize},
		{l.MaxOpenFiles > 0, "open files limit", s.Limits.MaxOpenFiles},
	}
	for _, c := range checks {
		if c.set {
			if err := need(c.name, c.m); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	probeOnce sync.Once
	probed    Support
)

// Probe reports what this host can enforce. The answer is computed once.
func Probe() Support {
	probeOnce.Do(func() {
		probed = probe()
		probed.UnrestrictedProcessTree = unrestrictedTreeSupport()
		probed.View = viewSupport()
	})
	return probed
}

// Child is a started, confined process.
type Child struct {
	// Cmd is the command as started; Cmd.Process is set.
	Cmd *exec.Cmd

	done chan struct{}
	err  error
	kill func() error
	// memoryLimitHit is set before done closes when the kernel killed a
	// process of the child on its memory limit.
	memoryLimitHit bool
	// For a child that is not the host's own (a View's command): its host
	// pid, how to signal it, and how it ended (set before done closes).
	hostPid int
	signal  func(os.Signal) error
	exit    *ExitStatus
}

// ExitStatus is how a child ended.
type ExitStatus struct {
	// Code is the exit code, or -1 when a signal ended the child or its
	// status is unknown.
	Code int `json:"code"`
	// Signal names the signal that ended it ("" if it exited), and Limit
	// the limit that signal stands for (see [ExitSignal]).
	Signal string `json:"signal,omitempty"`
	Limit  string `json:"limit,omitempty"`
	// CPU is the user and system time of the child and its reaped
	// descendants.
	CPU time.Duration `json:"cpu,omitempty"`
}

// exitStatusOf describes a process state; nil gives Code -1.
func exitStatusOf(st *os.ProcessState) ExitStatus {
	if st == nil {
		return ExitStatus{Code: -1}
	}
	sig, limit := exitSignal(st)
	return ExitStatus{Code: st.ExitCode(), Signal: sig, Limit: limit, CPU: st.UserTime() + st.SystemTime()}
}

// Exit waits for the child and says how it ended.
func (c *Child) Exit() ExitStatus {
	<-c.done
	if c.exit != nil {
		return *c.exit
	}
	return exitStatusOf(c.Cmd.ProcessState)
}

// Pid is the child's process id on the host.
func (c *Child) Pid() int {
	if c.Cmd.Process == nil {
		return c.hostPid
	}
	return c.Cmd.Process.Pid
}

// Signal sends sig to the child (not its descendants). It fails with
// os.ErrProcessDone once the child has ended.
func (c *Child) Signal(sig os.Signal) error {
	if c.signal != nil {
		return c.signal(sig)
	}
	return c.Cmd.Process.Signal(sig)
}

// MemoryLimitHit reports, after Done, whether the kernel killed a process of
// the child on the memory limit (known only where a memory cgroup is used).
func (c *Child) MemoryLimitHit() bool {
	<-c.done
	return c.memoryLimitHit
}

func newChild(cmd *exec.Cmd) *Child {
	return &Child{Cmd: cmd, done: make(chan struct{})}
}

// finish records the result of waiting for the child and releases waiters.
func (c *Child) finish(err error) {
	c.err = err
	close(c.done)
}

// Done is closed when the child has exited and has been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// Wait waits for the child to exit and returns what [exec.Cmd.Wait] returned.
func (c *Child) Wait() error {
	<-c.done
	return c.err
}

// Kill kills the child and every process it started that the adapter can
// reach (on Linux, its PID namespace or process group).
func (c *Child) Kill() error {
	if c.kill != nil {
		return c.kill()
	}
	return c.Cmd.Process.Kill()
}
