package osconfine

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"github.com/go-sandbox/sandbox/internal/joblimits"
	"golang.org/x/sys/windows"
)

// Windows confines the process tree and its resources with a Job Object:
// the child is created suspended, assigned to a new job, and only then
// resumed, so it runs no instruction outside the job, and every process it
// starts is in the job too (breakaway is not allowed). Closing the job
// kills every process still in it (kill-on-job-close): Kill terminates the
// job, and when the child exits the job is closed, killing what it left
// behind, as the PID namespace does on Linux.
//
// Filesystem and network confinement would need a restricted token or an
// AppContainer with ACLs granted on every root, and a firewall rule per
// AppContainer SID for the network; that is not built. The child runs with
// the host user's token, so Support reports both as not enforced and
// Prepare refuses every policy under Check (OSHardened); the job is what a
// caller gets after opting out of filesystem confinement.
//
// Resuming: os/exec does not expose the thread handle CreateProcess
// returns (it closes it), so Start finds the child's threads in a Toolhelp
// snapshot and resumes them. A process created suspended has exactly one
// thread, and no other process can add one before it is resumed but a
// debugger-capable process of the same user (which could do anything to
// the host too). NtResumeProcess would avoid the snapshot but is an
// undocumented ntdll export; Toolhelp32 is documented and stable.

// prepared is the Windows part of a Prepared: the Job Object limits each
// start gives the job it creates.
type prepared struct {
	limits joblimits.Job
}

func probe() Support {
	none := notEnforced
	fs := "no restricted token or AppContainer: the child has the host user's file access"
	return Support{
		OS:               "windows",
		Filesystem:       none(fs),
		NetworkDenyAll:   none("no AppContainer firewall rule: the child has the host's network"),
		NetworkAllowList: none("no per-host filter and no proxy is configured"),
		UnixSockets:      none(fs),
		Syscalls:         none("Windows has no per-process syscall filter usable here"),
		Privileges:       none("the child runs with the host's token"),
		HostFileMetadata: none(fs),
		ProcessTree:      enforcedBy("job object (created suspended, kill on job close, no breakaway)"),
		Limits: LimitSupport{
			Memory:       enforcedBy("job memory limit (committed memory of the whole tree)"),
			CPUTime:      enforcedBy("job per-process user-mode time limit (kernel time not counted)"),
			CPUCount:     enforcedBy("job CPU rate hard cap (count/ncpu of the machine, not affinity)"),
			MaxProcesses: enforcedBy("job active process limit (threads not counted)"),
			MaxFileSize:  none("Windows has no file size limit per process or job"),
			MaxOpenFiles: none("Windows has no handle limit per process or job"),
		},
	}
}

// prepare computes the job limits for p without checking p against
// Support; the tests use it to exercise the job, which Check never lets
// through on its own.
func prepare(p Policy) (*Prepared, error) {
	return &Prepared{prepared: prepared{limits: joblimits.Compute(joblimits.Limits{
		MemoryBytes: p.Limits.MemoryBytes, CPUTime: p.Limits.CPUTime,
		CPUCount: p.Limits.CPUCount, MaxProcesses: p.Limits.MaxProcesses,
	}, runtime.NumCPU())}}, nil
}

// close releases nothing: jobs belong to the children.
func (p *Prepared) close() error { return nil }

// start starts cmd suspended, puts it in a new job and resumes it.
func (p *Prepared) start(cmd *exec.Cmd) (*Child, error) {
	job, err := newJob(p.limits)
	if err != nil {
		return nil, err
	}
	attr := &syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		*attr = *cmd.SysProcAttr
	}
	attr.CreationFlags |= windows.CREATE_SUSPENDED
	attr.CreationFlags &^= windows.CREATE_BREAKAWAY_FROM_JOB
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		windows.CloseHandle(job)
		return nil, err
	}
	proc, err := enterJobAndResume(job, uint32(cmd.Process.Pid))
	if err != nil {
		// Closing the job kills the child if it got in; kill it anyway in
		// case it did not, then reap it.
		windows.CloseHandle(job)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}

	child := newChild(cmd)
	var (
		mu     sync.Mutex
		closed bool
	)
	closeJob := func() {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			closed = true
			windows.CloseHandle(job)
		}
	}
	child.kill = func() error {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return nil
		}
		return windows.TerminateJobObject(job, 1)
	}
	go func() {
		// Wait for the child's exit first and close the job before
		// cmd.Wait: what the child left running is killed, and with it the
		// last writer of any output pipe os/exec copies from, which
		// cmd.Wait would otherwise wait for.
		_, _ = windows.WaitForSingleObject(proc, windows.INFINITE)
		windows.CloseHandle(proc)
		closeJob()
		child.finish(cmd.Wait())
	}()
	return child, nil
}
