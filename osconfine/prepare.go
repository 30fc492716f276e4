package osconfine

import (
	"errors"
	"os"
	"os/exec"
	"sync"
)

// This file declares the package's entry points once, with their whole
// contract. Each OS supplies the unexported hooks they call: prepare,
// (*Prepared).start and (*Prepared).close in confine_<os>.go, and
// startUnconfined, childIdentity, checkAccess and exitSignal beside them.

// ErrClosed reports a Start on a Prepared that was closed; prepare again.
var ErrClosed = errors.New("osconfine: policy closed")

// Prepared is a policy checked against this host, with whatever can be
// reused across starts built once: on Linux the Landlock ruleset, the
// seccomp program, the empty network namespace and the spawner threads; on
// macOS the sandbox profile; on Windows the Job Object limits. It is safe
// for concurrent use: any number of Starts may run at once, and Close waits
// for the Starts in progress.
type Prepared struct {
	// mu is held shared by every Start and exclusively by Close, so what a
	// start uses (on Linux, the ruleset fd) is never released under it.
	mu     sync.RWMutex
	closed bool
	prepared
}

// Prepare checks p against what this host enforces ([Probe], [Support.Check])
// and builds what every start of p reuses. It fails with an error wrapping
// [ErrUnsupported], naming the mechanism, when any part of p cannot be
// enforced here, with an error wrapping [ErrLimitRange] when a limit is
// larger than the host can hold (on Linux, open files above fs.nr_open), and
// with an error wrapping [io/fs.ErrNotExist] when a path rule that is not
// Optional names a missing path.
//
// Besides p.Paths, the child may read what the OS's programs need to run;
// each adapter adds that baseline itself:
//
//   - Linux: read and execute /usr, /bin, /sbin and the /lib directories;
//     read the files of /etc that ordinary programs use (the loader cache,
//     name service, TLS roots, time zone, locale, shell start-up; never
//     /etc/shadow, /etc/sudoers or SSH host keys); read and write /dev/null,
//     /dev/zero and /dev/full; read /dev/random, /dev/urandom, /proc and
//     the CPU topology under /sys.
//   - macOS: read the system roots (/System, /usr, /bin, /sbin, /Library,
//     Homebrew, Xcode), /private/etc without its secrets, and the device
//     files programs use; execute from the system roots.
//
// On Windows and OpenBSD no filesystem confinement exists, so Prepare
// always fails with ErrUnsupported; see the package documentation.
func Prepare(p Policy) (*Prepared, error) {
	if err := Probe().Check(p); err != nil {
		return nil, err
	}
	return prepare(p)
}

// Start starts cmd confined by the prepared policy and returns the running
// [Child]; the caller waits for it with [Child.Wait] or [Child.Done], never
// with cmd.Wait. It fails with [ErrClosed] after Close, and when cmd was
// already started.
//
// How cmd is started differs per OS, and so does what the caller may set:
//
//   - Linux: cmd is started from a spawner thread that is already confined,
//     so Start cannot open files once the child exists. cmd.Stdin,
//     cmd.Stdout and cmd.Stderr must be *os.File values or nil (nil gets
//     /dev/null, opened before confinement); any other value is refused,
//     because os/exec would open a pipe for it on the confined thread.
//     cmd.SysProcAttr is replaced: the child leads a new session, dies with
//     its spawner thread, is cloned into new PID (and, for deny-all, network)
//     namespaces where the host allows, and runs as [ChildIdentity] of the
//     policy when that differs from the host's user.
//   - macOS: cmd.Path and cmd.Args are rewritten to run the command through
//     /usr/bin/sandbox-exec with the profile, and, when p sets resource
//     limits, through a re-exec of the host executable that sets them first
//     (see the package documentation for that trampoline). The command's
//     argv[0] becomes its path, because sandbox-exec passes the path it
//     execs as argv[0]. The child leads a new session.
//   - Windows: the child is created suspended, put in a new Job Object with
//     the limits, and resumed; cmd.SysProcAttr is copied and amended.
//
// The child's process tree ([Support].ProcessTree says what it is here: the
// PID namespace on Linux, the process group on macOS, the job on Windows) is
// killed by [Child.Kill] and when the child exits.
func (p *Prepared) Start(cmd *exec.Cmd) (*Child, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, ErrClosed
	}
	if cmd.Process != nil {
		return nil, errors.New("osconfine: Start: command already started")
	}
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	return p.start(cmd)
}

// Close releases what Prepare built; a Start after Close fails with
// [ErrClosed]. Children already started are not affected. Close is
// idempotent.
func (p *Prepared) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.close()
}

// StartUnconfined starts cmd without confinement, for the Unrestricted
// profile, in its own session (no controlling terminal), and with its whole
// tree killed when the command exits or [Child.Kill] is called, as far as the
// host allows ([Support].UnrestrictedProcessTree says how far): on Linux as
// init of its own PID namespace (in a user namespace of its own on an
// unprivileged host); without one, and on the other Unix systems, as the
// leader of its own process group, which a descendant leaves by starting a
// session; on Windows in a Job Object without limits.
func StartUnconfined(cmd *exec.Cmd) (*Child, error) {
	return startUnconfined(cmd)
}

// ChildIdentity returns the identity children of p run as when it differs
// from the host process's, and whether it does. Only Linux gives children an
// identity of their own: on a root host that is p.RunAs, or
// DefaultChildUID:DefaultChildGID; an explicit RunAs of uid 0 keeps the children root
// (without capabilities). An unprivileged host, and every other OS, runs
// children as the host's user.
func ChildIdentity(p Policy) (Identity, bool) {
	return childIdentity(p)
}

// CheckAccess reports whether id (with no supplementary groups) can reach
// dir, an absolute directory path, through every ancestor, read and list
// it, and, with write, create files in it, judging by owner, group and
// mode bits. Capabilities, ACLs and Landlock are not considered: the point
// is that the child's uid would be refused by plain permissions. Where
// children keep the host's user (outside Unix) there is nothing to check
// and it returns nil.
func CheckAccess(dir string, id Identity, write bool) error {
	return checkAccess(dir, id, write)
}

// ExitSignal returns the name of the signal that ended a process ("" if it
// exited), and the limit that signal stands for: "cpu_time" for SIGXCPU,
// "file_size" for SIGXFSZ, "" otherwise. Outside Unix processes end with an
// exit code and it returns "", "".
func ExitSignal(st *os.ProcessState) (signal, limit string) {
	return exitSignal(st)
}
