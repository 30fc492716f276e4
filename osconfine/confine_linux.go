//go:build linux

package osconfine

import (
	"errors"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// prepared is the Linux part of a Prepared: the Landlock ruleset and the
// seccomp program, built once and reused by every start, and the spawner
// threads that start children.
type prepared struct {
	policy       Policy
	support      Support
	rulesetFD    int
	rulesetFlags uint32
	seccomp      []unix.SockFilter
	cloneflags   uintptr
	userNS       bool // the child gets its own user namespace (unprivileged host)
	cpus         []int
	capLast      int // highest capability number the kernel knows; -1 when the bounding set is kept
	cgroups      cgroupHost
	netnsFD      int // the empty network namespace children join; -1 for none
	// jobs hands starts to idle spawner threads; closing, closed by Close,
	// tells them to exit once their children are gone.
	jobs    chan *spawnJob
	closing chan struct{}
	// view is set when the policy was prepared inside a session's View:
	// starts go to its init, which runs this package's spawner there.
	view *viewPrepared
}

// prepare adds the system baseline to p and builds the ruleset, the filter
// and the namespaces for it; Prepare checked p against Probe.
func prepare(p Policy) (*Prepared, error) {
	if err := checkLimitRange(p.Limits); err != nil {
		return nil, err
	}
	p.Paths = withBaseline(p.Paths)
	prep := &Prepared{prepared: prepared{policy: p, support: Probe(), rulesetFD: -1, capLast: -1, netnsFD: -1,
		jobs: make(chan *spawnJob), closing: make(chan struct{})}}
	fd, flags, err := newLandlockRuleset(p, prep.support.LandlockABI)
	if err != nil {
		return nil, err
	}
	prep.rulesetFD, prep.rulesetFlags = fd, flags
	if err := prep.prepareProcess(); err != nil {
		prep.Close()
		return nil, err
	}
	if err := prep.prepareSeccomp(); err != nil {
		prep.Close()
		return nil, err
	}
	return prep, nil
}

// close releases the ruleset and the network namespace, and tells idle
// spawner threads to exit; Close holds p.mu and calls it once.
func (p *Prepared) close() error {
	close(p.closing)
	if p.view != nil {
		return p.releaseInView()
	}
	if p.netnsFD >= 0 {
		unix.Close(p.netnsFD)
		p.netnsFD = -1
	}
	if p.rulesetFD < 0 {
		return nil
	}
	err := unix.Close(p.rulesetFD)
	p.rulesetFD = -1
	return err
}

// start hands cmd to a spawner thread of p; Start holds p.mu shared.
func (p *Prepared) start(cmd *exec.Cmd) (*Child, error) {
	if p.view != nil {
		return p.startInView(cmd)
	}
	var cg *execCgroup
	if p.needsCgroup() {
		var err error
		if cg, err = newExecCgroup(p.cgroups, p.policy.Limits); err != nil {
			return nil, err
		}
	}
	return p.spawn(cmd, cg, nil, nil)
}

// spawn starts cmd from a spawner thread of p, with cg (or nil) as its
// cgroup, and in the namespaces of h when a session init starts it (nil
// otherwise); onExit (or nil) runs once the child has been reaped. cg is
// removed when the start fails.
func (p *Prepared) spawn(cmd *exec.Cmd, cg *execCgroup, h *holder, onExit func()) (*Child, error) {
	devNull, err := stdioFiles(cmd)
	if err != nil {
		if cg != nil {
			cg.remove()
		}
		return nil, err
	}
	if devNull != nil {
		defer devNull.Close()
	}
	cmd.SysProcAttr = p.sysProcAttr()
	controllingTerminal(cmd, cmd.SysProcAttr)
	if err := markInheritedCloseOnExec(); err != nil {
		if cg != nil {
			cg.remove()
		}
		return nil, err
	}
	child := newChild(cmd)
	child.kill = func() error { return killTree(cmd) }
	job := &spawnJob{prep: p, cmd: cmd, child: child, started: make(chan error, 1), cgroup: cg, holder: h, onExit: onExit}
	jobs := p.jobs
	if h != nil {
		jobs = h.queue(p)
		child.kill = func() error { h.signalKill(); return nil }
	}
	select {
	case jobs <- job: // an idle spawner thread of this policy takes it
	default:
		onDisposableThread(func() { p.spawnerLoop(job, jobs) })
	}
	if err := <-job.started; err != nil {
		return nil, err
	}
	return child, nil
}

// sysProcAttr is how every child is cloned: in a new session with no
// controlling terminal, killed when its spawner thread dies, and (where the
// host can) as init of its own PID namespace, so that every process it
// starts dies with it.
func (p *Prepared) sysProcAttr() *syscall.SysProcAttr {
	pdeathsig := syscall.SIGKILL
	if inViewInit {
		// The holder's namespace ends the command with the init. And Go's
		// child checks for a dead parent by comparing getppid with the
		// parent's pid, which differ across PID namespaces: the child
		// would kill itself (as init of its namespace it used to be
		// immune to that).
		pdeathsig = 0
	}
	return &syscall.SysProcAttr{
		Setsid:     true,
		Pdeathsig:  pdeathsig,
		Cloneflags: p.cloneflags,
		Ptrace:     p.needsExecStop(),
		Credential: credential(p.policy),
	}
}

// killTree kills the child, the init of its PID namespace, which kills
// every process in it. os.Process signals through a pidfd, so a reaped
// child's reused pid is never hit.
func killTree(cmd *exec.Cmd) error {
	err := cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// stdioFiles makes every stdio slot of cmd an *os.File: nil slots get
// /dev/null, opened here before confinement, and returned so the caller can
// close it after the start. Other values are refused, because os/exec would
// open a pipe for them during Start, on the confined thread.
func stdioFiles(cmd *exec.Cmd) (devNull *os.File, err error) {
	need := cmd.Stdin == nil || cmd.Stdout == nil || cmd.Stderr == nil
	if need {
		if devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
			return nil, err
		}
	}
	if cmd.Stdin == nil {
		cmd.Stdin = devNull
	}
	if cmd.Stdout == nil {
		cmd.Stdout = devNull
	}
	if cmd.Stderr == nil {
		cmd.Stderr = devNull
	}
	_, inOK := cmd.Stdin.(*os.File)
	_, outOK := cmd.Stdout.(*os.File)
	_, errOK := cmd.Stderr.(*os.File)
	if !inOK || !outOK || !errOK {
		if devNull != nil {
			devNull.Close()
		}
		return nil, errors.New("osconfine: Stdin, Stdout and Stderr must be *os.File or nil")
	}
	return devNull, nil
}
