package sandbox

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/go-sandbox/sandbox/internal/netproxy"
	"github.com/go-sandbox/sandbox/osconfine"
)

// LocalConfig configures the local backend. The zero value is usable.
type LocalConfig struct {
	// RootDir holds the session directories; empty means os.TempDir().
	// NewLocal creates it (mode 0711) when missing. On a root host it and
	// its parents must be searchable by the identity commands run as (see
	// RunAs), or Provision refuses OSHardened sessions.
	//
	// Several backends, in one process or many, may share a RootDir. Each
	// session root carries a lock held by the process that owns it; when
	// that process has died (killed, crashed), the next NewLocal on the
	// RootDir reclaims the root. A reclaimed session's canonical outputs
	// and memory, when the backend made them and they are not empty, are
	// moved to RootDir/orphaned/<session id> (with a numeric suffix when
	// that exists) instead of being removed: they may hold the only copy
	// of a tool's results. Everything else of the root is removed.
	RootDir string
	// Path is the PATH commands get; empty means DefaultPath.
	Path string
	// RunAs is the identity commands run as when the host runs as root
	// (Linux); nil means 65534:65534 (nobody). The session's own
	// directories are given to it; a mount source the backend did not
	// create must be readable (and, read-write, writable) by it, and the
	// session root reachable by it. An identity with uid 0 keeps commands
	// root without capabilities, which Landlock does not stop from
	// changing the mode and times of the host's root-owned files.
	// Unprivileged hosts always run commands as their own user.
	RunAs *Identity

	// View says whether OSHardened sessions get a view of their own
	// (guest paths, their own /proc, no host file outside the session);
	// the zero value gives one wherever the host can. See ViewMode.
	View ViewMode

	// Resolver and Dialer serve the filtering proxy of allow-list
	// sessions (see AllowHosts); nil means net.DefaultResolver and a
	// net.Dialer. Tests inject their own to map names to loopback servers.
	Resolver Resolver
	Dialer   Dialer
	// OnNetworkEvent, when set, receives every connection attempt of
	// every allow-list session, refusals at once and admitted attempts
	// when they end. It is called on the connection's goroutine and
	// should not block.
	OnNetworkEvent func(NetworkEvent)
}

// DefaultPath is the PATH of commands that do not set one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Local is the backend that runs commands on this machine, confined by
// package osconfine. Create it with NewLocal.
type Local struct {
	cfg      LocalConfig
	mu       sync.Mutex
	sessions map[SessionID]*localSession // nil value: id reserved by a Provision in progress

	proxyOnce sync.Once
	proxy     *netproxy.Proxy // serves every allow-list session; see proxyFor
}

var _ Backend = (*Local)(nil)

// NewLocal returns a local backend. It fails when RootDir cannot be
// created. It reclaims what dead processes left in RootDir (see
// LocalConfig.RootDir) and the per-command cgroups of dead processes.
func NewLocal(cfg LocalConfig) (*Local, error) {
	const op = "new local backend"
	if cfg.RootDir == "" {
		cfg.RootDir = os.TempDir()
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	switch cfg.View {
	case ViewAuto, ViewRequired, ViewHost:
	default:
		return nil, newError(op, "", ErrInvalidRequest, fmt.Errorf("LocalConfig.View %q is none of %q, %q, %q", cfg.View, ViewAuto, ViewRequired, ViewHost))
	}
	// A missing RootDir is made searchable but not listable by others
	// (whatever the umask): on a root host commands run as an unprivileged
	// identity that must reach its session's directory.
	if _, err := os.Stat(cfg.RootDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(cfg.RootDir, 0o711); err != nil {
			return nil, newError(op, "", ErrIO, err)
		}
		if err := os.Chmod(cfg.RootDir, 0o711); err != nil {
			return nil, newError(op, "", ErrIO, err)
		}
	}
	root, err := cleanHostPath(cfg.RootDir)
	if err != nil {
		return nil, newError(op, "", ErrIO, err)
	}
	cfg.RootDir = root
	if err := reclaimOrphans(root); err != nil {
		return nil, newError(op, "", ErrIO, err)
	}
	osconfine.ReclaimCgroups()
	return &Local{cfg: cfg, sessions: make(map[SessionID]*localSession)}, nil
}

// Name returns "local".
func (l *Local) Name() string { return "local" }

// Capabilities reports the host's enforcement as probed by osconfine.
func (l *Local) Capabilities() Capabilities {
	s := osconfine.Probe()
	if ok, _ := l.usesView(); ok {
		s = osconfine.ProbeView()
	} else if l.cfg.View == ViewHost {
		s.View = osconfine.Mechanism{Reason: "LocalConfig.View is ViewHost: commands use host paths and see the host's processes"}
	}
	return Capabilities{
		LocalProcessSandbox: s.Filesystem.Enforced,
		NetworkPolicy:       s.NetworkDenyAll.Enforced,
		Snapshot:            true,
		Resume:              true,
		SuspendOnIdle:       true,
		Processes:           true,
		Terminal:            osconfine.TerminalSupported(),
		Enforcement:         enforcementFrom(s),
	}
}

// session looks a live session up.
func (l *Local) session(op string, id SessionID) (*localSession, error) {
	l.mu.Lock()
	s := l.sessions[id]
	l.mu.Unlock()
	if s == nil {
		return nil, newError(op, id, ErrSessionNotFound, nil)
	}
	return s, nil
}
