//go:build linux

package osconfine

import (
	"fmt"
	"os/exec"
	"runtime"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// The confined spawner thread.
//
// Go has no hook between fork and exec, but a child inherits the
// per-thread security state of the thread that cloned it: no_new_privs, the
// Landlock domain, the seccomp filter, the capability bounding set and CPU
// affinity. So each start runs on a goroutine locked to a fresh OS thread,
// confines that thread only, and starts the child from it. The goroutine
// never unlocks, so the runtime destroys the thread when it returns and no
// other goroutine ever runs confined. The thread stays alive until the child
// has been reaped, because Pdeathsig fires when the creating thread dies.

// spawnJob is one start: the command, the child it becomes, and where the
// spawner reports the result of the start.
type spawnJob struct {
	prep    *Prepared
	cmd     *exec.Cmd
	child   *Child
	started chan error
	cgroup  *execCgroup // nil without tree-wide limits
}

// onDisposableThread runs f on a goroutine locked to an OS thread that is
// not the main thread and is destroyed when f returns, so f may change the
// thread's security state or namespaces. It does not wait for f.
func onDisposableThread(f func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// This is the main thread (m0). The runtime wedges m0 instead
			// of destroying it when a locked goroutine exits, so m0 must
			// never be changed. Keep holding m0 so the scheduler cannot
			// hand it to the new goroutine, and unlock it once that
			// goroutine has its own thread.
			onThread := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				close(onThread)
				f()
			}()
			<-onThread
			runtime.UnlockOSThread()
			return
		}
		f() // never unlocked: the thread dies with the goroutine
	}()
}

// spawn starts job.cmd from a disposable thread it confines first. It runs
// on that thread until the child has been reaped.
func spawn(job *spawnJob) {
	cg := job.cgroup
	if cg != nil {
		// Removing the cgroup (and reading its OOM count) opens files,
		// which the confined thread may not.
		defer onHostThread(cg.remove)
	}
	if err := job.prep.confineThread(); err != nil {
		job.started <- err
		return
	}
	if err := job.cmd.Start(); err != nil {
		job.started <- err
		return
	}
	if job.cmd.SysProcAttr.Ptrace {
		if err := job.prep.atExecStop(job.cmd.Process.Pid, cg); err != nil {
			_ = unix.Kill(job.cmd.Process.Pid, unix.SIGKILL)
			_ = job.cmd.Wait()
			job.started <- err
			return
		}
	}
	if cg != nil {
		cg.closeFiles()
	}
	job.started <- nil
	err := job.cmd.Wait()
	if cg != nil {
		onHostThread(func() { job.child.memoryLimitHit = cg.oomKilled() })
	}
	job.child.finish(err)
}

// confineThread applies the policy to the calling OS thread. Order matters:
// no_new_privs first (Landlock and seccomp need it without CAP_SYS_ADMIN),
// then the capabilities and affinity the child inherits, then Landlock, and
// the seccomp filter last, so that the syscalls above are not filtered.
func (p *Prepared) confineThread() error {
	if p.netnsFD >= 0 {
		// Per-thread: the child is cloned into the session's empty
		// network namespace. Before seccomp, which refuses setns.
		if err := unix.Setns(p.netnsFD, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("osconfine: entering the empty network namespace: %w", err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("osconfine: no_new_privs: %w", err)
	}
	if err := p.dropThreadCapabilities(); err != nil {
		return err
	}
	if len(p.cpus) > 0 {
		var set unix.CPUSet
		for _, c := range p.cpus {
			set.Set(c)
		}
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("osconfine: CPU affinity: %w", err)
		}
	}
	if err := ll.LandlockRestrictSelf(p.rulesetFD, p.rulesetFlags); err != nil {
		return fmt.Errorf("osconfine: Landlock restrict: %w", err)
	}
	if err := p.installSeccomp(); err != nil {
		return err
	}
	return nil
}

// onHostThread runs f on a new goroutine and waits for it. A new goroutine
// never runs on a locked thread, so f runs unconfined: the spawner thread
// uses it for the few file operations it needs after confinement.
func onHostThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}
