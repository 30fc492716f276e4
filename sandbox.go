// Package sandbox runs commands for agent tools so that each command can
// touch only what its session was granted.
//
// A session ([Spec], [Session]) has a root directory on the host, mounts (a
// host directory exposed read-only or read-write at a guest path), a network
// policy and resource limits. A [Backend] provisions sessions and runs
// commands in them ([ExecRequest], [ExecResult]). The local backend
// ([NewLocal]) confines every command on this machine through the per-OS
// adapters of package osconfine; hosted backends implement the same
// interface.
//
// # Guarantees
//
// The local backend fails closed: under the default [OSHardened] profile a
// command runs only if the host can confine it as asked, and otherwise the
// call fails with an error wrapping [ErrUnsupported] that names the missing
// mechanism. [Backend.Capabilities] reports, per dimension, what this host
// enforces and by which mechanism.
//
// Every command starts with a clean environment (see [ExecRequest.Env]),
// only file descriptors 0, 1 and 2, its own session and no controlling
// terminal (unless it asked for one: [ExecRequest.Terminal]). When Exec
// returns, the command and everything it started are gone; Exec returns a
// result for every command that ran and an error only for one that did
// not, and its deadline holds whatever the caller's writers do.
//
// # Processes, networks, leftovers
//
// The local backend is also a [ProcessBackend]: [Local.Start] hands back a
// [Process] for commands that live across steps (a dev server, a REPL, a
// program on a terminal). A session's network policy may name hosts
// ([AllowHosts]); the local backend then routes its commands through a
// filtering proxy, where this host allows it. Session roots and cgroups a
// killed host process left behind are reclaimed by the next [NewLocal] on
// the same root directory.
//
// # Linux
//
// Each command is started from an OS thread confined for its session's
// policy (the rest of the host process never is): no_new_privs, a Landlock
// ruleset (only the session's roots, the system directories programs need
// and allow-listed entries of /etc), a seccomp filter, and the command as
// init of its own PID namespace. On a root host commands run as an
// unprivileged identity ([LocalConfig.RunAs]) with no capability at all.
// Resource limits are set while the child is stopped at its execve, before
// its first instruction. The README lists what each Landlock ABI enforces.
//
// # Other operating systems
//
// macOS and Windows have their own adapters with different strengths;
// [Capabilities] says what each enforces. Elsewhere (OpenBSD included) the
// local backend refuses to run commands under OSHardened.
package sandbox

import (
	"context"
	"errors"
	"regexp"
	"time"
)

// Backend runs commands in isolated sessions. Implementations are safe for
// concurrent use: many sessions, and many concurrent Exec calls per session.
type Backend interface {
	// Name identifies the backend ("local", "e2b", ...).
	Name() string
	// Capabilities reports what the backend offers and enforces.
	Capabilities() Capabilities
	// Provision creates a session. A failed Provision leaves nothing behind.
	Provision(ctx context.Context, spec Spec) (*Session, error)
	// AttachFilesystem adds a mount to a live session; the next Exec sees it.
	AttachFilesystem(ctx context.Context, id SessionID, m Mount) (ResolvedMount, error)
	// ApplyNetworkPolicy replaces the session's network policy; the next
	// Exec runs under it.
	ApplyNetworkPolicy(ctx context.Context, id SessionID, p NetworkPolicy) error
	// Exec runs one command in the session and waits for it.
	Exec(ctx context.Context, id SessionID, req ExecRequest) (*ExecResult, error)
	// Snapshot describes the session's state so it can be resumed or audited.
	Snapshot(ctx context.Context, id SessionID) (*Snapshot, error)
	// Resume brings a suspended session back to running.
	Resume(ctx context.Context, id SessionID) (*Session, error)
	// Terminate kills what still runs in the session, removes its root and
	// forgets it. A second Terminate reports ErrSessionNotFound.
	Terminate(ctx context.Context, id SessionID) error
}

// SessionID names a session. Callers may choose one (letters, digits, '.',
// '_' and '-', at most 128 bytes, not blank); otherwise the backend mints
// one, "local-<uuidv7>" for the local backend.
type SessionID string

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// Validate reports whether id is usable as a caller-chosen session id.
func (id SessionID) Validate() error {
	if !sessionIDPattern.MatchString(string(id)) {
		return errors.New("session id must be 1-128 letters, digits, '.', '_' or '-', not starting with '.' or '-'")
	}
	return nil
}

// Profile selects how strictly the local backend confines commands.
type Profile string

const (
	// OSHardened (the default) confines every command with the OS's
	// mechanisms and refuses to run a command it cannot confine as asked.
	OSHardened Profile = "os_hardened"
	// Unrestricted runs commands without OS confinement. The environment
	// is still scrubbed, the output capped and the process tree killed.
	Unrestricted Profile = "unrestricted"
)

// Spec describes a session to provision.
type Spec struct {
	// SessionID is optional; blank (only spaces) is rejected.
	SessionID SessionID `json:"session_id,omitempty"`
	// Labels are free-form tags kept with the session.
	Labels map[string]string `json:"labels,omitempty"`
	// NetworkPolicy; the zero value denies all network access.
	NetworkPolicy NetworkPolicy `json:"network_policy"`
	// Mounts are added to the canonical /mnt/memory and
	// /mnt/session/outputs. A mount whose target is one of those replaces
	// the fresh directory the backend would make: outputs then land in a
	// directory of the caller's that outlives the session, and memory can
	// carry over from one session to the next.
	Mounts []Mount `json:"mounts,omitempty"`
	// Limits bounds each command; zero fields take the documented defaults.
	Limits Limits `json:"limits"`
	// Env is added to every command's base environment before the
	// request's own ExecRequest.Env (which wins on a shared key): for
	// example a PATH that includes a toolchain directory. Keys must match
	// [A-Za-z_][A-Za-z0-9_]*.
	Env map[string]string `json:"env,omitempty"`
	// UnixSockets are host paths of unix sockets outside the session that
	// commands may connect to (a database, a build daemon). Others are out
	// of reach under every network mode. With Landlock ABI 9 only these
	// are reachable; below it the sandbox cannot tell socket paths apart,
	// so naming any admits every pathname socket the command can name,
	// and naming none refuses creating unix sockets (socketpair works).
	UnixSockets []string `json:"unix_sockets,omitempty"`
	// Profile; empty means OSHardened.
	Profile Profile `json:"profile,omitempty"`
}

// State is a session's lifecycle state.
type State string

const (
	StateRunning    State = "running"
	StateSuspended  State = "suspended"
	StateTerminated State = "terminated"
)

// Session is a provisioned session as the backend reports it.
type Session struct {
	ID      SessionID         `json:"session_id"`
	Backend string            `json:"backend"`
	State   State             `json:"state"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Root is the session's directory on the host (empty for backends
	// whose commands run elsewhere). Workdir is where commands run by
	// default and what a relative cwd resolves against: for the local
	// backend the host directory inside Root (Dirs says where commands see
	// it), for a hosted backend the path inside its sandbox.
	Root    string `json:"root"`
	Workdir string `json:"workdir"`
	// Dirs are the session's own directories (workdir, home, temp) with
	// the guest paths its commands see them at, where the session has a
	// view of its own (local backend, see ViewMode); empty where commands
	// see host paths. HostPath maps through them and Mounts.
	Dirs          []ResolvedMount `json:"dirs,omitempty"`
	Mounts        []ResolvedMount `json:"mounts"`
	NetworkPolicy NetworkPolicy   `json:"network_policy"`
	Limits        Limits          `json:"limits"`
	Profile       Profile         `json:"profile"`
	CreatedAt     time.Time       `json:"created_at"`
	// Env is the session's Spec.Env.
	Env map[string]string `json:"env,omitempty"`
	// RunAs is the identity commands run as when it is not the host
	// process's (a root host on Linux runs them unprivileged). The session's
	// directories belong to it; files placed in the session must be
	// readable, and where meant to be changed writable, by it.
	RunAs *Identity `json:"run_as,omitempty"`
}

// Snapshot is what a backend can say about a session at a point in time.
// The local backend records the session's description and host paths; it
// does not copy files.
type Snapshot struct {
	Session Session   `json:"session"`
	TakenAt time.Time `json:"taken_at"`
}

// Capabilities reports what a backend offers and what it enforces per
// dimension.
type Capabilities struct {
	LocalProcessSandbox bool `json:"local_process_sandbox"`
	NetworkPolicy       bool `json:"network_policy"`
	Snapshot            bool `json:"snapshot"`
	Resume              bool `json:"resume"`
	SuspendOnIdle       bool `json:"suspend_on_idle"`
	// Processes: the backend is a ProcessBackend (Start, process handles).
	Processes bool `json:"processes"`
	// Terminal: commands can run on a pseudo-terminal (ExecRequest.Terminal).
	Terminal bool `json:"terminal"`
	// Enforcement is the backend's report: for the filesystem, network,
	// syscalls, process tree, privileges and each resource limit, whether
	// it is enforced and by what (and, on Linux, the Landlock ABI).
	Enforcement Enforcement `json:"enforcement"`
}
