//go:build linux

package osconfine

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// The session init: the host executable re-executed into the session's
// namespaces (see View for how it is recognised). It builds the session's
// root, locks itself down, and then serves the host's requests until the
// host goes away, when it exits and the kernel ends every process of its
// PID namespace.

// inViewInit is set, before anything else runs, in a session init and in
// its holders. It changes how Prepare clones children (see prepareProcess)
// and whom they run as (see childIdentity).
var inViewInit bool

func init() {
	token, ok := os.LookupEnv(viewInitEnv)
	if !ok {
		return
	}
	os.Unsetenv(viewInitEnv)
	conn, hello := viewTrigger(token)
	if conn == nil {
		return // not started as a view process: run as usual
	}
	inViewInit = true
	switch hello.Mode {
	case "init":
		runViewInit(conn, hello)
	case "holder":
		runHolder(conn)
	case "probe":
		conn.send(replyTo(hello.ID, probeViewMounts()))
	}
	os.Exit(0)
}

// viewTrigger checks the guard (PID 1, a SOCK_SEQPACKET unix socket on fd
// 3, a first message carrying token) and returns the connection and that
// message, or nil when any part does not hold. It changes nothing before
// the socket checks pass.
func viewTrigger(token string) (*viewConn, *viewMsg) {
	if os.Getpid() != 1 || len(token) < 32 {
		return nil, nil
	}
	if typ, err := unix.GetsockoptInt(3, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		return nil, nil
	}
	if dom, err := unix.GetsockoptInt(3, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom != unix.AF_UNIX {
		return nil, nil
	}
	fd, err := unix.FcntlInt(3, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil
	}
	conn, err := newViewConn(fd)
	if err != nil {
		return nil, nil
	}
	conn.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, files, err := conn.recv()
	closeFiles(files)
	if err != nil || m.Op != "hello" || subtle.ConstantTimeCompare([]byte(m.Token), []byte(token)) != 1 {
		conn.close()
		return nil, nil
	}
	conn.c.SetReadDeadline(time.Time{})
	unix.Close(3)
	return conn, m
}

// viewInit is the init's state; the serve loop owns it, start goroutines
// share execs under mu.
type viewInit struct {
	conn     *viewConn
	root     *guestRoot
	holders  *holderPool
	policies map[uint64]*Prepared
	nextID   uint64
	allowNS  *NetworkNamespace // the allow-list's namespace, made on first use

	mu    sync.Mutex
	execs map[uint64]*initExec
}

// initExec is a running command and the holder of its PID namespace.
type initExec struct {
	child  *Child
	holder *holder
}

func runViewInit(conn *viewConn, hello *viewMsg) {
	if hello.Facts == nil {
		conn.send(errorMsg(hello.ID, errors.New("osconfine: the session init got no facts")))
		return
	}
	setInitFacts(hello.Facts)
	if hello.Facts.ExecHolders {
		execHolders = true
	}
	in := &viewInit{conn: conn, holders: newHolderPool(), policies: make(map[uint64]*Prepared),
		execs: make(map[uint64]*initExec)}
	// The first holder starts now, while the host sends the spec and the
	// root is built: it only needs the root when it mounts its /proc.
	in.holders.refill()
	if err := conn.send(&viewMsg{Op: "ok", ID: hello.ID}); err != nil {
		return
	}
	m, files, err := conn.recv()
	closeFiles(files)
	if err != nil {
		return
	}
	if err := in.setup(m.Spec); err != nil {
		conn.send(errorMsg(m.ID, err))
		return
	}
	in.holders.rootReady()
	// The empty network namespace of deny-all policies, made while the
	// reply travels and the host asks for its policy. Not earlier: it is
	// opened through /proc, which building the root replaces.
	go sessionEmptyNetns()
	if err := conn.send(&viewMsg{Op: "ok", ID: m.ID}); err != nil {
		return
	}
	in.serve()
}

// setup builds the session's root, shares its mounts with the holders'
// mount namespaces to come, and locks the init down.
func (in *viewInit) setup(spec *ViewSpec) error {
	if spec == nil {
		return errors.New("osconfine: the session init got no spec")
	}
	root, err := buildRoot(spec.Stage, spec.Mounts)
	if err != nil {
		return err
	}
	in.root = root
	// Shared, so that the mount namespaces of holders (copies of this
	// one) are its peers and see what Attach mounts later.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("osconfine: init: sharing the root's mounts: %w", err)
	}
	return lockDownInit()
}

// setInitFacts fixes what probeHost reports inside the init: it is root of
// its user namespace (every capability there), has no cgroup of its own
// to create (the host makes them and passes their cgroup.procs), and may
// stop children at exec as the host may.
func setInitFacts(f *viewFacts) {
	hostOnce.Do(func() {
		host = hostFacts{root: true, capLast: -1, ptraceStop: f.PtraceStop, yama: f.Yama}
		if n, err := strconv.Atoi(readSysctl("/proc/sys/kernel/cap_last_cap")); err == nil {
			host.capLast = n
		}
	})
}

// lockDownInit confines the init itself once its root is built: no
// process may ptrace it or read its memory (not dumpable), and no program
// it starts gains privileges. Its capabilities stay: it mounts for Attach,
// makes namespaces and drops capabilities on spawner threads; what it
// starts drops its own (every command on its spawner thread, every holder
// at once). Landlock and seccomp are not applied to the init: Landlock
// forbids the mounts Attach needs, and each command is confined by both.
func lockDownInit() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("osconfine: init: not dumpable: %w", err)
	}
	// Per thread, so on every thread (psx); one call, since each costs a
	// round of signals to all of them.
	if _, _, errno := psx.Syscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("osconfine: init: no_new_privs: %w", errno)
	}
	return nil
}

// serve answers the host's requests until the host goes away.
func (in *viewInit) serve() {
	for {
		m, files, err := in.conn.recv()
		if err != nil {
			return // the host is gone; exiting ends the namespace
		}
		switch m.Op {
		case "prepare":
			in.reply(m.ID, in.prepare(m))
		case "release":
			if p := in.policies[m.PolicyID]; p != nil {
				delete(in.policies, m.PolicyID)
				p.Close()
			}
			in.reply(m.ID, nil)
		case "start":
			// Here, not on a goroutine of its own: start returns once the
			// command runs, and its end is reported from where it is reaped.
			in.start(m, in.policies[m.PolicyID], files)
			continue
		case "kill":
			in.kill(m.Exec)
			in.reply(m.ID, nil)
		case "attach":
			var err error
			if m.Mount == nil {
				err = errors.New("attach: no mount")
			} else {
				err = in.root.attach(*m.Mount)
			}
			in.reply(m.ID, err)
		case "listen":
			in.listen(m.ID)
		default:
			in.reply(m.ID, fmt.Errorf("osconfine: unknown request %q", m.Op))
		}
		closeFiles(files)
	}
}

// replyTo is the answer to request id: success, or err.
func replyTo(id uint64, err error) *viewMsg {
	if err != nil {
		return errorMsg(id, err)
	}
	return &viewMsg{Op: "ok", ID: id}
}

// probeViewMounts makes, and drops, the filesystems a view needs.
func probeViewMounts() error {
	for _, fstype := range []string{"tmpfs", "proc"} {
		fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
		if err != nil {
			return fmt.Errorf("creating a %s: %w", fstype, err)
		}
		err = unix.FsconfigCreate(fsfd)
		var mfd int
		if err == nil {
			mfd, err = unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
		}
		unix.Close(fsfd)
		if err != nil {
			return fmt.Errorf("mounting a %s: %w", fstype, err)
		}
		unix.Close(mfd)
	}
	return nil
}

// reply answers request id with success or err.
func (in *viewInit) reply(id uint64, err error) {
	if err != nil {
		in.conn.send(errorMsg(id, err))
		return
	}
	in.conn.send(&viewMsg{Op: "ok", ID: id})
}

// prepare prepares a policy of guest paths; the reply names it.
func (in *viewInit) prepare(m *viewMsg) error {
	if m.Policy == nil {
		return errors.New("prepare: no policy")
	}
	p := m.Policy.policy()
	if p.Network == NetworkAllowList {
		if err := in.ensureAllowNS(); err != nil {
			return err
		}
		p.Namespace = in.allowNS
	}
	prep, err := Prepare(p)
	if err != nil {
		return err
	}
	in.nextID++
	in.policies[in.nextID] = prep
	return in.conn.send(&viewMsg{Op: "prepared", ID: m.ID, PolicyID: in.nextID})
}

func (in *viewInit) ensureAllowNS() error {
	if in.allowNS != nil {
		return nil
	}
	ns, err := NewNetworkNamespace()
	if err != nil {
		return err
	}
	in.allowNS = ns
	return nil
}

// listen sends the host a listener in the allow-list's namespace.
func (in *viewInit) listen(id uint64) {
	if err := in.ensureAllowNS(); err != nil {
		in.reply(id, err)
		return
	}
	ln, err := in.allowNS.Listen()
	if err != nil {
		in.reply(id, err)
		return
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		in.reply(id, err)
		return
	}
	defer f.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	in.conn.send(&viewMsg{Op: "listening", ID: id, Port: port}, int(f.Fd()))
}

// start starts one command in a PID namespace of its own and answers with
// its pidfd; its end is reported, once nothing of it is left, from the
// goroutine that reaps it.
func (in *viewInit) start(m *viewMsg, p *Prepared, files []*os.File) {
	st := m.Start
	fail := func(err error) {
		closeFiles(files)
		in.conn.send(errorMsg(m.ID, err))
	}
	switch {
	case p == nil:
		fail(errors.New("osconfine: start under a policy the init does not know"))
		return
	case st == nil || len(files) != 3+st.Cgroups:
		fail(errors.New("osconfine: malformed start request"))
		return
	}
	bin, err := lookPath(st.Path, envValue(st.Env, "PATH"), st.Dir)
	if err != nil {
		fail(err)
		return
	}
	cmd := &exec.Cmd{Path: bin, Args: st.Args, Env: st.Env, Dir: st.Dir, Stdin: files[0], Stdout: files[1], Stderr: files[2]}
	var cg *execCgroup
	if st.Cgroups > 0 {
		cg = &execCgroup{procs: files[3:], boundsMemory: st.BoundsMemory, boundsPids: st.BoundsPids}
	}
	h, err := in.holders.get()
	if err != nil {
		fail(err)
		return
	}
	// The end is reported after the start: onExit waits for sent.
	sent := make(chan struct{})
	var child *Child
	onExit := func() {
		<-sent
		in.holders.put(h) // returns once nothing of the command is left
		exit := child.Exit()
		in.mu.Lock()
		delete(in.execs, m.Exec)
		in.mu.Unlock()
		in.conn.send(&viewMsg{Op: "exit", Exec: m.Exec, Exit: &exit})
	}
	child, err = p.spawn(cmd, cg, h, onExit)
	closeFiles(files[:3]) // the child has its own copies; spawn closed the cgroup files
	if err != nil {
		in.holders.put(h)
		in.conn.send(errorMsg(m.ID, err))
		return
	}
	in.mu.Lock()
	in.execs[m.Exec] = &initExec{child: child, holder: h}
	in.mu.Unlock()
	pidfd, err := unix.PidfdOpen(child.Pid(), 0)
	if err == nil {
		in.conn.send(&viewMsg{Op: "started", ID: m.ID}, pidfd)
		unix.Close(pidfd)
	} else {
		in.conn.send(&viewMsg{Op: "started", ID: m.ID})
	}
	close(sent)
}

// kill ends the command's PID namespace, and with it the command.
func (in *viewInit) kill(id uint64) {
	in.mu.Lock()
	e := in.execs[id]
	in.mu.Unlock()
	if e != nil {
		e.holder.signalKill()
	}
}

// envValue returns the value of key in env ("KEY=value" entries).
func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
