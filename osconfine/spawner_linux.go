//go:build linux

package osconfine

import (
	"fmt"
	"os/exec"
	"runtime"
	"time"

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
	holder  *holder     // in a session init: whose namespaces the child is born in
	// onExit, when set, runs on the goroutine that reaped the child, right
	// after the Child is finished: a session init reports the end from
	// there, without waking another goroutine first.
	onExit func()
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

// spawnerIdle is how long a confined spawner thread waits for the next
// start of its policy before it exits (once none of its children runs).
// Keeping it saves creating and confining a thread for every command.
const spawnerIdle = 2 * time.Second

// spawnerLoop runs on a disposable thread: it confines the thread once, then
// starts first and every further job of the same policy it receives on
// p.jobs. The thread must outlive every child it started, because a
// child's Pdeathsig fires when the thread that created it exits; so it
// exits only when it has no running child and is idle or the policy was
// closed.
func (p *Prepared) spawnerLoop(first *spawnJob, jobs chan *spawnJob) {
	var gone <-chan struct{}
	if h := first.holder; h != nil {
		// Before confinement, which refuses setns: the thread serves
		// this holder only, and stops taking work when it ends.
		gone = h.gone
		err := h.join()
		if err == nil {
			err = p.grantHolderProc()
		}
		if err != nil {
			first.cleanup()
			first.started <- err
			return
		}
	}
	if err := p.confineThread(); err != nil {
		first.cleanup()
		first.started <- err
		return
	}
	exited := make(chan struct{})
	running := 0
	if first.run(exited) {
		running++
	}
	idle := time.NewTimer(spawnerIdle)
	defer idle.Stop()
	closing := p.closing
	for jobs != nil || running > 0 {
		select {
		case job := <-jobs:
			if job.run(exited) {
				running++
			}
			idle.Reset(spawnerIdle)
		case <-exited:
			running--
		case <-idle.C:
			if running == 0 {
				return
			}
			idle.Reset(spawnerIdle)
		case <-closing:
			jobs, closing = nil, nil // take no more work
		case <-gone:
			jobs, gone = nil, nil
		}
	}
}

// run starts the job's child from the calling (confined, locked) thread and
// reports the start on job.started. When the child started, a goroutine on
// another thread waits for it, finishes the Child and sends on exited; run
// reports whether that happened.
func (job *spawnJob) run(exited chan<- struct{}) bool {
	cmd, cg := job.cmd, job.cgroup
	if err := cmd.Start(); err != nil {
		job.cleanup()
		job.started <- err
		return false
	}
	if cmd.SysProcAttr.Ptrace {
		if err := job.prep.atExecStop(cmd.Process.Pid, cg); err != nil {
			_ = unix.Kill(cmd.Process.Pid, unix.SIGKILL)
			_ = cmd.Wait()
			job.cleanup()
			job.started <- err
			return false
		}
	}
	if cg != nil {
		cg.closeFiles()
	}
	job.started <- nil
	go func() {
		// Not on the spawner thread: waiting needs no tracer (the child
		// was detached), and reading the cgroup opens files.
		err := cmd.Wait()
		if cg != nil {
			job.child.memoryLimitHit = cg.oomKilled()
		}
		job.child.finish(err)
		if job.onExit != nil {
			job.onExit()
		}
		// After finish: removing the cgroup may wait for the kernel to
		// release the namespace's last tasks, which Exec need not wait for.
		if cg != nil {
			cg.remove()
		}
		exited <- struct{}{}
	}()
	return true
}

// cleanup removes the job's cgroup, from an unconfined thread.
func (job *spawnJob) cleanup() {
	if job.cgroup != nil {
		onHostThread(job.cgroup.remove)
	}
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
	if id, ok := ChildIdentity(p.policy); ok {
		if err := takeRealIDs(id); err != nil {
			return err
		}
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
