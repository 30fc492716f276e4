//go:build linux

package osconfine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Holders: why each command gets a PID namespace of its own below the init.
//
// The init reaps every orphan of its PID namespace, so it cannot tell what
// a finished command left behind (a daemon that double-forked and called
// setsid has no trace of where it came from), and an unprivileged host has
// no cgroup to ask. A PID namespace can tell: every process a command
// starts stays in it. But the command must not be that namespace's first
// process, which the kernel shields from signals it has no handler for
// (kill $$, SIGXCPU, SIGXFSZ would do nothing). So the first process is a
// holder, which has a mount namespace of its own with a /proc of its PID
// namespace (so the command's /proc/self and /proc/$$ agree), no
// capability, and only reaps: a fork of the init where procfs takes the
// pidns option (view_holder_clone_linux.go), else this executable again,
// which mounts its /proc itself (runHolder). The command is started by the
// init into the holder's namespaces (its spawner thread joins them), as
// the init's child. When the command has ended, the init looks at the
// holder's children: none means nothing is left and the holder serves the
// next command; otherwise the init kills the holder, and the kernel kills
// everything in its namespace with it, and a replacement is made in the
// background.

// holder is the first process of a command's PID namespace.
type holder struct {
	cmd          *exec.Cmd // this executable again; nil for a cloned holder
	pidfd        int       // a cloned holder's pidfd
	pid          int       // in the init's PID namespace
	pidns, mntns int       // descriptors of its namespaces, for spawner threads
	conn         *viewConn
	gone         chan struct{} // closed once it has been reaped
	// killed is set when the holder is sent SIGKILL: from then on its
	// namespace is ending (the kernel refuses new processes in it with
	// ENOMEM) even before it is reaped, so it must not serve again.
	killed atomic.Bool

	mu     sync.Mutex
	queues map[*Prepared]chan *spawnJob // idle spawner threads joined to it, per policy
}

// spawnHolder starts a holder in a new PID namespace. It shares the init's
// mount namespace until mountProc; a holder started before the init has
// built the root moves with the init's pivot_root into the new root.
func spawnHolder() (_ *holder, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	childEnd := os.NewFile(uintptr(fds[1]), "holder")
	defer childEnd.Close()
	conn, err := newViewConn(fds[0])
	if err != nil {
		return nil, err
	}
	token, err := newViewToken()
	if err != nil {
		conn.close()
		return nil, err
	}
	h := &holder{conn: conn, gone: make(chan struct{}), pidns: -1, mntns: -1, queues: make(map[*Prepared]chan *spawnJob)}
	h.cmd = &exec.Cmd{
		Path: "/proc/self/exe", Args: []string{"go-sandbox-holder"},
		Env: []string{viewInitEnv + "=" + token}, ExtraFiles: []*os.File{childEnd},
		SysProcAttr: &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Setsid: true},
	}
	if err := h.cmd.Start(); err != nil {
		conn.close()
		return nil, fmt.Errorf("osconfine: starting a holder: %w", err)
	}
	h.pid = h.cmd.Process.Pid
	go func() {
		h.cmd.Wait()
		h.conn.close()
		h.closeNamespaces()
		close(h.gone)
	}()
	defer func() {
		if err != nil {
			h.signalKill()
			<-h.gone
		}
	}()
	if err := conn.send(&viewMsg{Op: "hello", Token: token, Mode: "holder"}); err != nil {
		return nil, err
	}
	return h, nil
}

// mountProc asks the holder for a mount namespace of its own with a /proc
// of its PID namespace (once the init's root is built), and takes the
// descriptors of both namespaces it sends back.
func (h *holder) mountProc() (err error) {
	defer func() {
		if err != nil {
			h.signalKill()
			<-h.gone
		}
	}()
	if err := h.conn.send(&viewMsg{Op: "mount"}); err != nil {
		return err
	}
	m, files, err := h.conn.recv()
	if err != nil {
		return fmt.Errorf("osconfine: a holder did not start: %w", err)
	}
	if err := m.asError(); err != nil {
		closeFiles(files)
		return err
	}
	if len(files) != 2 {
		closeFiles(files)
		return errors.New("osconfine: a holder sent no namespaces")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, fd := range []*int{&h.mntns, &h.pidns} {
		if *fd, err = unix.FcntlInt(files[i].Fd(), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			closeFiles(files)
			return err
		}
	}
	closeFiles(files)
	return nil
}

func (h *holder) closeNamespaces() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fd := range []*int{&h.pidns, &h.mntns} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// dead reports whether the holder has been reaped.
func (h *holder) dead() bool {
	select {
	case <-h.gone:
		return true
	default:
		return false
	}
}

// empty reports whether nothing but the holder is left in its namespace:
// every process a finished command left behind is the holder's child,
// since orphans of a PID namespace are reparented to its first process.
// A holder that was killed is never empty, reaped or not.
func (h *holder) empty() bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(h.pid) + "/task/" + strconv.Itoa(h.pid) + "/children")
	return err == nil && len(bytes.TrimSpace(b)) == 0 && !h.killed.Load() && !h.dead()
}

// signalKill kills the holder, and the kernel everything in its namespace.
func (h *holder) signalKill() {
	h.killed.Store(true)
	if h.dead() {
		return
	}
	if h.cmd == nil {
		// Under mu: the reaper closes the pidfd under it, and a closed
		// descriptor's number may already name another file.
		h.mu.Lock()
		if h.pidfd >= 0 {
			unix.PidfdSendSignal(h.pidfd, unix.SIGKILL, nil, 0)
		}
		h.mu.Unlock()
		return
	}
	h.cmd.Process.Kill()
}

// queue returns the channel on which idle spawner threads of p joined to
// this holder wait for work.
func (h *holder) queue(p *Prepared) chan *spawnJob {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queues[p]
	if q == nil {
		q = make(chan *spawnJob)
		h.queues[p] = q
	}
	return q
}

// join moves the calling (locked, disposable) thread into the holder's
// mount and PID namespaces, so that the children it clones are born there.
// A thread must stop sharing its filesystem attributes before it can join
// a mount namespace.
func (h *holder) join() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pidns < 0 {
		return errors.New("osconfine: the command's holder has ended")
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("osconfine: unsharing filesystem attributes: %w", err)
	}
	if err := unix.Setns(h.mntns, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("osconfine: joining a holder's mount namespace: %w", err)
	}
	if err := unix.Setns(h.pidns, unix.CLONE_NEWPID); err != nil {
		return fmt.Errorf("osconfine: joining a holder's PID namespace: %w", err)
	}
	return nil
}

// grantHolderProc adds the /proc of the holder the calling thread has
// joined to p's Landlock ruleset, with the rights the baseline gives /proc:
// Landlock rules follow inodes, and each holder's /proc is a procfs of its
// own, which the rule Prepare made for the init's /proc does not cover.
// Adding a rule changes only domains enforced from now on, so threads
// joined to other holders keep what they had.
func (p *Prepared) grantHolderProc() error {
	fd, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("osconfine: opening a holder's /proc: %w", err)
	}
	defer unix.Close(fd)
	handled := landlockConfig(p.policy, p.support.LandlockABI).HandledAccessFS
	attr := ll.PathBeneathAttr{AllowedAccess: uint64(landlockRights(Read, true, handled)), ParentFd: fd}
	if err := ll.LandlockAddPathBeneathRule(p.rulesetFD, &attr, 0); err != nil {
		return fmt.Errorf("osconfine: Landlock rule for a holder's /proc: %w", err)
	}
	return nil
}

// holderPool keeps spare holders, so that a command rarely waits for one.
type holderPool struct {
	mu      sync.Mutex
	idle    []*holder // holders with their /proc, nothing in their namespace
	waiting []*holder // started before the root was built
	rootOK  bool
	built   chan struct{} // closed with rootOK
	filling bool
}

// maxIdleHolders bounds the holders kept for reuse.
const maxIdleHolders = 2

func newHolderPool() *holderPool { return &holderPool{built: make(chan struct{})} }

// get returns a holder with nothing in its namespace, an idle one when
// there is one (a session running one command at a time reuses a single
// holder), else a new one. The init calls it once the root is built.
func (hp *holderPool) get() (*holder, error) {
	hp.mu.Lock()
	for len(hp.idle) > 0 {
		h := hp.idle[len(hp.idle)-1]
		hp.idle = hp.idle[:len(hp.idle)-1]
		if !h.dead() && !h.killed.Load() {
			hp.mu.Unlock()
			return h, nil
		}
	}
	hp.mu.Unlock()
	return newHolder()
}

// newHolder makes a holder ready for a command, once the root is built:
// a cloned one where the kernel allows, else this executable again.
func newHolder() (*holder, error) {
	if cloneHoldersWork() {
		return spawnClonedHolder()
	}
	h, err := spawnHolder()
	if err != nil {
		return nil, err
	}
	if err := h.mountProc(); err != nil {
		return nil, err
	}
	return h, nil
}

// put takes a holder back once its command has ended. It keeps it when
// nothing is left in its namespace; otherwise it kills it and waits until
// the kernel has ended everything in the namespace.
func (hp *holderPool) put(h *holder) {
	if h.empty() {
		hp.mu.Lock()
		if len(hp.idle) < maxIdleHolders {
			hp.idle = append(hp.idle, h)
			hp.mu.Unlock()
			return
		}
		hp.mu.Unlock()
	}
	h.signalKill()
	<-h.gone
	hp.refill() // the next command need not wait for a replacement
}

// refill makes a spare holder in the background when none is idle.
func (hp *holderPool) refill() {
	hp.mu.Lock()
	if hp.filling || len(hp.idle) > 0 {
		hp.mu.Unlock()
		return
	}
	hp.filling = true
	hp.mu.Unlock()
	go func() {
		if cloneHoldersWork() {
			// Cloned in a moment, once the root is built.
			<-hp.built
			h, err := spawnClonedHolder()
			hp.mu.Lock()
			hp.filling = false
			if err == nil {
				hp.idle = append(hp.idle, h)
			}
			hp.mu.Unlock()
			return
		}
		h, err := spawnHolder()
		if err != nil {
			hp.mu.Lock()
			hp.filling = false
			hp.mu.Unlock()
			return
		}
		hp.ready(h)
	}()
}

// ready finishes a spare: its /proc once the root is built, then idle.
func (hp *holderPool) ready(h *holder) {
	hp.mu.Lock()
	if !hp.rootOK {
		hp.waiting = append(hp.waiting, h)
		hp.mu.Unlock()
		return
	}
	hp.mu.Unlock()
	err := h.mountProc()
	hp.mu.Lock()
	hp.filling = false
	if err == nil {
		hp.idle = append(hp.idle, h)
	}
	hp.mu.Unlock()
}

// rootReady tells the pool the root is built: holders started before can
// mount their /proc now.
func (hp *holderPool) rootReady() {
	hp.mu.Lock()
	hp.rootOK = true
	close(hp.built)
	waiting := hp.waiting
	hp.waiting = nil
	hp.mu.Unlock()
	for _, h := range waiting {
		go hp.ready(h)
	}
}

// runHolder is a holder's whole life: when the init asks (its root is
// built), make a mount namespace of its own on this thread with a /proc
// of its PID namespace, send both namespaces, drop every capability, then
// reap orphans until the init goes away (and the kernel ends it with the
// session's PID namespace).
func runHolder(conn *viewConn) {
	// Never unlocked: this thread alone is in the holder's mount
	// namespace (the others stay in the init's), and the reaping below
	// runs on it.
	runtime.LockOSThread()
	m, files, err := conn.recv()
	closeFiles(files)
	if err != nil || m.Op != "mount" {
		return
	}
	mnt, pid, err := holderMount()
	if err != nil {
		conn.send(errorMsg(0, err))
		return
	}
	err = conn.send(&viewMsg{Op: "ready"}, mnt, pid)
	unix.Close(mnt)
	unix.Close(pid)
	if err != nil {
		return
	}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, unix.SIGCHLD)
	ended := make(chan struct{})
	go func() {
		for {
			if _, _, err := conn.recv(); err != nil {
				close(ended)
				return
			}
		}
	}()
	for {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
		select {
		case <-sigchld:
		case <-ended:
			return
		}
	}
}

// holderMount moves the calling thread to a mount namespace of its own,
// mounts there a /proc of the holder's PID namespace (private, so that it
// does not propagate to the init's), opens both namespaces for the init,
// and drops the process's capabilities.
func holderMount() (mnt, pid int, err error) {
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return -1, -1, fmt.Errorf("osconfine: holder: a mount namespace: %w", err)
	}
	if err := unix.Mount("", "/proc", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return -1, -1, fmt.Errorf("osconfine: holder: making /proc private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return -1, -1, fmt.Errorf("osconfine: holder: mounting /proc: %w", err)
	}
	if mnt, err = unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return -1, -1, err
	}
	if pid, err = unix.Open("/proc/thread-self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		unix.Close(mnt)
		return -1, -1, err
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		unix.Close(mnt)
		unix.Close(pid)
		return -1, -1, err
	}
	// Empty permitted, effective and inheritable sets on every thread:
	// the holder runs no code that needs them and starts no program.
	if err := dropAllCapabilities(); err != nil {
		unix.Close(mnt)
		unix.Close(pid)
		return -1, -1, err
	}
	return mnt, pid, nil
}
