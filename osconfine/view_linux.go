//go:build linux

package osconfine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The host's side of a View: it starts the session init, talks to it, and
// turns its replies into Childs and errors.

// execHolders, set by tests before a view starts, makes its init start
// holders as this executable even where it could clone them, so that both
// kinds are tested on a kernel that has the newer way.
var execHolders bool

// viewInitEnv names the token of the init trigger (see View).
const viewInitEnv = "GO_SANDBOX_VIEW_TOKEN"

// viewNamespaces are the namespaces the init is cloned into. It keeps the
// host's network namespace: commands of an unrestricted policy use it, and
// the init makes namespaces of its own for deny-all and allow-lists.
const viewNamespaces = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

type view struct {
	cmd  *exec.Cmd
	conn *viewConn

	mu      sync.Mutex
	nextID  uint64
	waiting map[uint64]chan reply
	execs   map[uint64]*viewExec
	ended   bool
	dead    chan struct{} // closed when the connection ends
	reaped  chan struct{} // closed when the init has been waited for
}

// reply is a message and its descriptors.
type reply struct {
	m     *viewMsg
	files []*os.File
}

func viewSupport() Mechanism {
	if inViewInit {
		return enforcedBy(viewBy) // this process is one
	}
	h := probeHost()
	switch {
	case landlockABI() < 1:
		return notEnforced("needs Landlock for the commands inside it")
	case !h.root && !h.userNS:
		return notEnforced("user namespaces are not available to this user (disabled by sysctl, or restricted as on recent Ubuntu)")
	}
	if err := tryView(); err != nil {
		return notEnforced("a trial session init failed: " + err.Error())
	}
	return enforcedBy(viewBy)
}

const viewBy = "a session init (this executable, re-executed) owning user, mount, PID, IPC and UTS namespaces: its own root filesystem with the session's mounts at their guest paths, /etc filtered, a minimal /dev, a /proc of its own; each command in a PID namespace of its own below the init"

// tryView starts an init in its namespaces that only checks it can make
// the filesystems a view needs (a tmpfs, a procfs) and exits. A user
// namespace can exist without the right to mount in it (AppArmor's
// restriction on recent Ubuntu gives it no capability; a /proc with
// covered parts refuses a new procfs), which no cheaper probe tells.
func tryView() error {
	v, err := startViewProcess("probe", Identity{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())})
	if err != nil {
		return err
	}
	return v.Close()
}

func startView(spec ViewSpec) (*View, error) {
	if m := Probe().View; !m.Enforced {
		return nil, fmt.Errorf("%w: session view: %s", ErrUnsupported, m.Reason)
	}
	v, err := spareInits.take(spec.Owner)
	defer spareInits.refill(spec.Owner)
	if err != nil {
		return nil, err
	}
	if _, err := v.call(&viewMsg{Op: "setup", Spec: &spec}); err != nil {
		v.Close()
		return nil, fmt.Errorf("osconfine: building the session's view: %w", err)
	}
	return v, nil
}

// startViewProcess starts this executable as a view process in mode,
// with uid 0 of its namespace mapped to owner, and waits for its answer
// to the hello.
func startViewProcess(mode string, owner Identity) (*View, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("osconfine: view socket: %w", err)
	}
	childEnd := os.NewFile(uintptr(fds[1]), "view-init")
	conn, err := newViewConn(fds[0])
	if err != nil {
		childEnd.Close()
		return nil, err
	}
	token, err := newViewToken()
	if err != nil {
		childEnd.Close()
		conn.close()
		return nil, err
	}
	v := &View{view: view{conn: conn, waiting: make(map[uint64]chan reply), execs: make(map[uint64]*viewExec),
		dead: make(chan struct{}), reaped: make(chan struct{})}}
	v.cmd = &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"go-sandbox-session-init"},
		Env:        []string{viewInitEnv + "=" + token},
		ExtraFiles: []*os.File{childEnd},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 viewNamespaces,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(owner.UID), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(owner.GID), Size: 1}},
			GidMappingsEnableSetgroups: false,
			// uid 0 of the namespace: where the owner is not the host's
			// own uid, the child would otherwise keep an unmapped uid and
			// exec without any capability.
			Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
			Setsid:     true,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	if err := v.spawnInit(); err != nil {
		childEnd.Close()
		conn.close()
		if errors.Is(err, fs.ErrPermission) {
			err = fmt.Errorf("%w (the init is this executable, which uid %d, the session's owner, must be allowed to execute)", err, owner.UID)
		}
		return nil, err
	}
	childEnd.Close()
	go v.readLoop()
	h := probeHost()
	hello := &viewMsg{Op: "hello", Token: token, Mode: mode,
		Facts: &viewFacts{PtraceStop: h.ptraceStop, Yama: h.yama, ExecHolders: execHolders}}
	if _, err := v.call(hello); err != nil {
		v.Close()
		return nil, fmt.Errorf("osconfine: starting the session init: %w", err)
	}
	return v, nil
}

// spawnInit starts the init from a thread that stays locked until the init
// has been reaped: Pdeathsig fires when the creating thread exits, and a
// runtime thread could exit any time.
func (v *View) spawnInit() error {
	if err := markInheritedCloseOnExec(); err != nil {
		return err
	}
	started := make(chan error, 1)
	onDisposableThread(func() {
		if err := v.cmd.Start(); err != nil {
			started <- fmt.Errorf("osconfine: starting the session init: %w", err)
			return
		}
		started <- nil
		v.cmd.Wait()
		close(v.reaped)
	})
	return <-started
}

func newViewToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// readLoop delivers replies to their callers and exits to their Childs
// until the connection ends, then fails everything still waiting.
func (v *View) readLoop() {
	for {
		m, files, err := v.conn.recv()
		if err != nil {
			break
		}
		v.mu.Lock()
		if m.Op == "exit" {
			e := v.execs[m.Exec]
			delete(v.execs, m.Exec)
			v.mu.Unlock()
			closeFiles(files)
			if e != nil {
				e.end(m.Exit, nil, &v.mu)
			}
			continue
		}
		ch := v.waiting[m.ID]
		delete(v.waiting, m.ID)
		v.mu.Unlock()
		if ch == nil {
			closeFiles(files)
			continue
		}
		ch <- reply{m, files}
	}
	v.mu.Lock()
	v.ended = true
	waiting, execs := v.waiting, v.execs
	v.waiting, v.execs = nil, nil
	v.mu.Unlock()
	close(v.dead)
	for _, ch := range waiting {
		close(ch)
	}
	for _, e := range execs {
		e.end(&ExitStatus{Code: -1, Signal: "killed"}, ErrViewEnded, &v.mu)
	}
}

// call sends a request and waits for its reply, returning the reply's
// descriptors; they are the caller's to close.
func (v *View) call(m *viewMsg, fds ...int) (reply, error) {
	ch := make(chan reply, 1)
	v.mu.Lock()
	if v.ended {
		v.mu.Unlock()
		return reply{}, ErrViewEnded
	}
	v.nextID++
	m.ID = v.nextID
	v.waiting[m.ID] = ch
	v.mu.Unlock()
	if err := v.conn.send(m, fds...); err != nil {
		v.mu.Lock()
		if v.waiting != nil {
			delete(v.waiting, m.ID)
		}
		v.mu.Unlock()
		return reply{}, err
	}
	r, ok := <-ch
	if !ok {
		return reply{}, ErrViewEnded
	}
	if err := r.m.asError(); err != nil {
		closeFiles(r.files)
		return reply{}, err
	}
	return r, nil
}

func (v *View) attach(m ViewMount) error {
	_, err := v.call(&viewMsg{Op: "attach", Mount: &m})
	return err
}

func (v *View) listen() (net.Listener, error) {
	r, err := v.call(&viewMsg{Op: "listen"})
	if err != nil {
		return nil, err
	}
	defer closeFiles(r.files)
	if len(r.files) != 1 {
		return nil, errors.New("osconfine: the session init sent no listener")
	}
	return net.FileListener(r.files[0])
}

func (v *View) close() error {
	v.mu.Lock()
	v.ended = true
	v.mu.Unlock()
	if v.cmd.Process != nil {
		// SIGKILL to the init ends its PID namespace, every command in it.
		_ = v.cmd.Process.Kill()
		<-v.reaped
	}
	v.conn.close()
	<-v.dead
	return nil
}

func (v *View) pid() int {
	if v.cmd.Process == nil {
		return 0
	}
	return v.cmd.Process.Pid
}

// viewPrepared is the host's handle of a policy prepared inside a view.
type viewPrepared struct {
	v  *View
	id uint64
}

func (v *View) prepare(p Policy) (*Prepared, error) {
	if err := probeView().Check(p); err != nil {
		return nil, err
	}
	if err := checkLimitRange(p.Limits); err != nil {
		return nil, err
	}
	r, err := v.call(&viewMsg{Op: "prepare", Policy: toWire(p)})
	if err != nil {
		return nil, err
	}
	closeFiles(r.files)
	prep := &Prepared{prepared: prepared{policy: p, support: Probe(), rulesetFD: -1, capLast: -1, netnsFD: -1,
		cgroups: probeHost().cgroups, closing: make(chan struct{}), view: &viewPrepared{v: v, id: r.m.PolicyID}}}
	return prep, nil
}

// viewExec is a command running in the view, as the host tracks it.
type viewExec struct {
	child *Child
	cg    *execCgroup // nil without tree-wide limits
	pidfd *os.File    // the command's pidfd, sent by the init; nil until then
	ended bool
}

// end records how the command ended; the init reports it once the
// command and everything it left in its PID namespace are gone.
func (e *viewExec) end(st *ExitStatus, err error, mu *sync.Mutex) {
	if e.cg != nil {
		e.child.memoryLimitHit = e.cg.oomKilled()
	}
	mu.Lock()
	e.ended = true
	if e.pidfd != nil {
		e.pidfd.Close()
		e.pidfd = nil
	}
	mu.Unlock()
	e.child.exit = st
	e.child.finish(err)
	if e.cg != nil {
		e.cg.remove()
	}
}

// startInView starts cmd inside the view; Start holds p.mu shared. A start
// that failed with ETXTBSY is tried again for a while: a program written
// just before it runs can be held open for writing by a process this one
// forked meanwhile (a spare init, say) until that process execs, the race
// every fork-and-exec program has.
func (p *Prepared) startInView(cmd *exec.Cmd) (*Child, error) {
	stdin, stdout, stderr := cmd.Stdin, cmd.Stdout, cmd.Stderr
	for i := 0; ; i++ {
		// As given: a try fills empty slots with a /dev/null it closes.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		child, err := p.startInViewOnce(cmd)
		if !errors.Is(err, unix.ETXTBSY) || i == 50 {
			return child, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *Prepared) startInViewOnce(cmd *exec.Cmd) (_ *Child, err error) {
	v := p.view.v
	devNull, err := stdioFiles(cmd)
	if err != nil {
		return nil, err
	}
	if devNull != nil {
		defer devNull.Close()
	}
	start := &viewStart{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir}
	fds := []int{int(cmd.Stdin.(*os.File).Fd()), int(cmd.Stdout.(*os.File).Fd()), int(cmd.Stderr.(*os.File).Fd())}
	e := &viewExec{child: newChild(cmd)}
	if p.needsCgroup() {
		if e.cg, err = newExecCgroup(p.cgroups, p.policy.Limits); err != nil {
			return nil, err
		}
		for _, f := range e.cg.procs {
			fds = append(fds, int(f.Fd()))
		}
		start.Cgroups, start.BoundsMemory, start.BoundsPids = len(e.cg.procs), e.cg.boundsMemory, e.cg.boundsPids
	}
	v.mu.Lock()
	if v.ended {
		v.mu.Unlock()
		if e.cg != nil {
			e.cg.remove()
		}
		return nil, ErrViewEnded
	}
	v.nextID++
	execID := v.nextID
	v.execs[execID] = e
	v.mu.Unlock()
	r, err := v.call(&viewMsg{Op: "start", PolicyID: p.view.id, Exec: execID, Start: start}, fds...)
	if e.cg != nil {
		e.cg.closeFiles()
	}
	if err != nil {
		v.mu.Lock()
		if v.execs != nil {
			delete(v.execs, execID)
		}
		v.mu.Unlock()
		if e.cg != nil {
			e.cg.remove()
		}
		return nil, err
	}
	child := e.child
	v.mu.Lock()
	if len(r.files) == 1 {
		child.hostPid = pidOfPidfd(r.files[0])
		if !e.ended {
			e.pidfd, r.files = r.files[0], nil
		}
	}
	closeFiles(r.files)
	v.mu.Unlock()
	child.signal = func(sig os.Signal) error { return v.signalExec(e, sig) }
	child.kill = func() error {
		_, err := v.call(&viewMsg{Op: "kill", Exec: execID})
		if errors.Is(err, ErrViewEnded) {
			return nil
		}
		return err
	}
	return child, nil
}

// signalExec signals the command (not its descendants) through its pidfd.
func (v *View) signalExec(e *viewExec, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("osconfine: unsupported signal type")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.ended || e.pidfd == nil {
		return os.ErrProcessDone
	}
	err := unix.PidfdSendSignal(int(e.pidfd.Fd()), s, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// releaseInView drops the policy inside the view.
func (p *Prepared) releaseInView() error {
	_, err := p.view.v.call(&viewMsg{Op: "release", PolicyID: p.view.id})
	if errors.Is(err, ErrViewEnded) {
		return nil
	}
	return err
}

// pidOfPidfd reads the host pid a pidfd refers to from its fdinfo (0 when
// the process has been reaped, or the kernel does not say).
func pidOfPidfd(f *os.File) int {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return max(n, 0)
		}
	}
	return 0
}
