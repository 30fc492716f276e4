package osconfine

import (
	"errors"
	"net"
)

// A View is a session's own view of the machine, held by a session init:
// a process that owns the session's user, mount, PID, IPC and UTS
// namespaces, shows the session a root filesystem built for it (system
// directories read-only, /etc filtered, a minimal /dev, its own /proc, the
// session's mounts at their guest targets) and starts every command of the
// session inside it. Commands started through a View are still confined
// by the policy they were prepared with (Landlock and seccomp on Linux),
// with the policy's paths written as guest paths, so that a mistake in the
// view is not an escape.
//
// Only Linux has views ([Support].View says whether this host can make
// one); elsewhere [StartView] fails with ErrUnsupported.
//
// # How the init starts
//
// Go cannot run code between fork and exec, so the init is this very
// executable, re-executed through /proc/self/exe. A package init function
// of osconfine recognises it, so that hosts and test binaries need no hook
// in main or TestMain: a host that links osconfine can be an init, and no
// binary can forget to call the hook. The trigger is guarded so that no
// normal run can turn into an init by accident: the process must be PID 1
// of its namespace, hold a SOCK_SEQPACKET socket as file descriptor 3, and
// receive on it, first thing, a message carrying the random token its
// environment names. An environment variable alone does nothing (it is
// removed and the program runs as usual). The same guard starts the init's
// small helpers (one per command's PID namespace, see the Linux notes).
type View struct {
	view
}

// ViewSpec is what a session's view shows.
type ViewSpec struct {
	// Stage is an empty directory on the host, writable by Owner, where
	// the init builds the root filesystem before it pivots into it.
	Stage string `json:"stage"`
	// Mounts are the host directories shown at guest paths: the
	// session's own directories and its mounts.
	Mounts []ViewMount `json:"mounts"`
	// Owner is the host identity the session's uid 0 maps to: files the
	// session creates belong to it, and it must be able to reach every
	// mount's source.
	Owner Identity `json:"owner"`
}

// ViewMount is one directory (or file) of the host that a session's view
// shows at a guest path.
type ViewMount struct {
	// Source is an absolute host path with symlinks resolved.
	Source string `json:"source"`
	// Target is the absolute, clean guest path it appears at.
	Target string `json:"target"`
	// ReadOnly mounts it read-only (recursively).
	ReadOnly bool `json:"read_only,omitempty"`
}

// ErrViewEnded reports an operation on a View whose init has ended: Close
// was called, or the init died.
var ErrViewEnded = errors.New("osconfine: the session's view has ended")

// StartView starts a session init for spec and returns when its root
// filesystem is built. It fails with an error wrapping ErrUnsupported
// when this host cannot make a view (no user namespaces, a /proc the
// kernel refuses to mount again), naming what is missing.
func StartView(spec ViewSpec) (*View, error) {
	return startView(spec)
}

// Prepare checks p against what commands in a view can be held to
// ([ProbeView]) and prepares it inside the view. p's paths are guest
// paths. Start on the result starts the command inside the view:
// cmd.Path is looked up in the view (see [LookPath]) with the PATH of
// cmd.Env, and cmd.Dir is a guest path. Stdin, Stdout and Stderr must be
// *os.File values or nil, as for [Prepared.Start]. The started [Child]
// has no Cmd.Process (the process is not the host's child); use its Pid,
// Signal and Exit methods.
func (v *View) Prepare(p Policy) (*Prepared, error) {
	return v.prepare(p)
}

// Attach shows one more host directory at its guest target. It appears in
// the view of every command, running ones included, but only commands
// started under a policy prepared after the Attach (naming it) may use it:
// a running command keeps the Landlock rules it started with.
func (v *View) Attach(m ViewMount) error {
	return v.attach(m)
}

// Listen returns a TCP listener on 127.0.0.1 inside the view's own network
// namespace, which has only loopback: the namespace commands of an
// allow-list policy run in (set Policy.ProxyPort to its port). The host
// accepts on it from any goroutine.
func (v *View) Listen() (net.Listener, error) {
	return v.listen()
}

// Close ends the init, and with it every process of the view, and waits
// for it. It is idempotent.
func (v *View) Close() error {
	return v.close()
}

// Pid is the host pid of the session init.
func (v *View) Pid() int { return v.pid() }

// ProbeView reports what commands started in a view are held to on this
// host; Support.View says whether a view can be made at all.
func ProbeView() Support {
	return probeView()
}

// LookPath finds command the way a command's environment would: a name
// with a '/' is a path (relative to dir when not absolute); any other name
// is searched in the absolute entries of pathList, and must be a regular
// executable file.
func LookPath(command, pathList, dir string) (string, error) {
	return lookPath(command, pathList, dir)
}
