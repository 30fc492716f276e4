//go:build linux

package osconfine

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Holders without a program of their own.
//
// A holder only has to exist (as the first process of a command's PID
// namespace), reap what is reparented to it and stay out of the way. Where
// the kernel can mount a /proc for another process's PID namespace (the
// "pidns" option of procfs, Linux 6.15), the init makes each holder by
// cloning itself without exec: the child blocks every signal, ignores
// SIGCHLD (so the kernel reaps its children for it), drops its
// capabilities and sleeps in ppoll for good, using nothing but raw system
// calls, since the Go runtime is not usable in a child of a fork. The init
// then mounts the holder's /proc itself, in a mount namespace it makes for
// the holder. This costs a fork of the init instead of starting this
// executable again (a few milliseconds of CPU and about 10 MiB of memory
// for the Go runtime). Elsewhere holders are this executable (runHolder).

// The clone child's only data, set up before the clone, so that it never
// allocates or writes a pointer.
var (
	// ignoreSIGCHLD is a kernel struct sigaction: handler SIG_IGN, no
	// flags, no restorer, empty mask.
	ignoreSIGCHLD = [4]uint64{1, 0, 0, 0}
	noCapsHeader  = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	noCapsData    [2]unix.CapUserData
	allSignals    = ^uint64(0)
)

// cloneArgs is the kernel's struct clone_args (the fields up to tls).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

// cloneHolder forks the calling process into a new PID namespace, where the
// child becomes a holder (holderChild), and returns the child's pid and a
// pidfd of it. The calling thread's signal mask is all blocked across the
// clone, so no signal handler of the runtime ever runs in the child.
//
//go:norace
//go:nocheckptr
func cloneHolder() (pid, pidfd int, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old uint64
	fd := int32(-1)
	args := cloneArgs{flags: unix.CLONE_NEWPID | unix.CLONE_PIDFD, pidfd: uint64(uintptr(unsafe.Pointer(&fd))), exitSignal: uint64(unix.SIGCHLD)}
	if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&allSignals)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return -1, -1, e
	}
	r, _, e := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	if r == 0 && e == 0 {
		holderChild() // never returns
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	if e != 0 {
		return -1, -1, fmt.Errorf("osconfine: cloning a holder: %w", e)
	}
	return int(r), int(fd), nil
}

// holderChild is the whole life of a cloned holder. It runs in the child of
// a fork of a Go program, so it may only make raw system calls: no stack
// growth (nosplit), no allocation, no runtime.
//
//go:nosplit
//go:norace
//go:nocheckptr
func holderChild() {
	// A fork copies every descriptor of the init, the stdio of a command
	// being started among them: holding its pipes would keep the host
	// from ever seeing their end.
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, 0, ^uintptr(0), 0)
	syscall.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&ignoreSIGCHLD)), 0, 8, 0, 0)
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0)
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0, 0, 0, 0)
	syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&noCapsHeader)), uintptr(unsafe.Pointer(&noCapsData[0])), 0)
	for {
		// No descriptors, no timeout, every signal blocked: sleeps until
		// SIGKILL ends it.
		syscall.RawSyscall6(unix.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
	}
}

var (
	procPidnsOnce sync.Once
	procPidnsErr  error
)

// cloneHoldersWork reports whether this kernel mounts a /proc for another
// process's PID namespace, which cloned holders need: whether procfs
// takes the pidns option (for this process's own namespace, which costs
// nothing to ask). It is asked once.
func cloneHoldersWork() bool {
	if execHolders {
		return false
	}
	procPidnsOnce.Do(func() {
		procPidnsErr = func() error {
			// Through a pidfd, not /proc, which building the root
			// replaces while this may run. A kernel without the ioctl
			// (before 6.11) has no pidns option either.
			self, err := unix.PidfdOpen(os.Getpid(), 0)
			if err != nil {
				return err
			}
			defer unix.Close(self)
			ns, err := unix.IoctlRetInt(self, unix.PIDFD_GET_PID_NAMESPACE)
			if err != nil {
				return err
			}
			defer unix.Close(ns)
			fsfd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
			if err != nil {
				return err
			}
			defer unix.Close(fsfd)
			return unix.FsconfigSetFd(fsfd, "pidns", ns)
		}()
	})
	return procPidnsErr == nil
}

// spawnClonedHolder clones a holder and gives it a mount namespace of its
// own with a /proc of its PID namespace. The init calls it once its root
// is built.
func spawnClonedHolder() (_ *holder, err error) {
	pid, pidfd, err := cloneHolder()
	if err != nil {
		return nil, err
	}
	h := &holder{pid: pid, pidfd: pidfd, gone: make(chan struct{}), pidns: -1, mntns: -1,
		queues: make(map[*Prepared]chan *spawnJob)}
	go func() {
		// The holder is this process's child: reap it through its pidfd.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED, nil)
			if err != unix.EINTR {
				break
			}
		}
		h.closeNamespaces()
		h.mu.Lock()
		unix.Close(h.pidfd)
		h.pidfd = -1
		h.mu.Unlock()
		close(h.gone)
	}()
	defer func() {
		if err != nil {
			h.signalKill()
			<-h.gone
		}
	}()
	// Through the pidfd, not /proc: before the root is built, this
	// process's /proc is still the host's, where pid is another process.
	ns, err := unix.IoctlRetInt(pidfd, unix.PIDFD_GET_PID_NAMESPACE)
	if err != nil {
		return nil, fmt.Errorf("osconfine: a holder's PID namespace: %w", err)
	}
	unix.CloseOnExec(ns)
	mnt, err := procMountNamespace(ns)
	if err != nil {
		unix.Close(ns)
		return nil, err
	}
	h.mu.Lock()
	h.pidns, h.mntns = ns, mnt
	h.mu.Unlock()
	return h, nil
}

// procMountNamespace makes a mount namespace (a copy of this process's,
// peer to it, so that attached mounts appear in it too) whose /proc shows
// the PID namespace pidns, and returns a descriptor of it.
func procMountNamespace(pidns int) (int, error) {
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	onDisposableThread(func() {
		fd, err := mountProcOnThread(pidns)
		done <- result{fd, err}
	})
	r := <-done
	return r.fd, r.err
}

// mountProcOnThread runs on a disposable thread, which it moves to the new
// mount namespace.
func mountProcOnThread(pidns int) (int, error) {
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return -1, fmt.Errorf("osconfine: a holder's mount namespace: %w", err)
	}
	// Opened before the new /proc hides the one this thread is seen in.
	mnt, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(mnt)
		return -1, fmt.Errorf("osconfine: a holder's /proc: %s: %w", what, err)
	}
	// Private, so that the new /proc does not propagate to the init's.
	if err := unix.Mount("", "/proc", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fail("making /proc private", err)
	}
	fsfd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fail("fsopen", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetFd(fsfd, "pidns", pidns); err != nil {
		return fail("the pidns option", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fail("creating", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fail("fsmount", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fail("mounting", err)
	}
	return mnt, nil
}
