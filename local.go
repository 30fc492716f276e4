package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/go-sandbox/sandbox/osconfine"
)

// LocalConfig configures the local backend. The zero value is usable.
type LocalConfig struct {
	// RootDir holds the session directories; empty means os.TempDir().
	// NewLocal creates it (mode 0711) when missing. On a root host it and
	// its parents must be searchable by the identity commands run as (see
	// RunAs), or Provision refuses OSHardened sessions.
	RootDir string
	// Path is the PATH commands get; empty means DefaultPath.
	Path string
	// RunAs is the identity commands run as when the host runs as root
	// (Linux); nil means osconfine.DefaultChildIdentity (65534:65534).
	// The session's own directories are given to it; a mount source the
	// backend did not create must be readable (and, read-write, writable)
	// by it, and the session root reachable by it. An identity with uid 0
	// keeps commands root without capabilities, which Landlock does not
	// stop from changing the mode and times of the host's root-owned
	// files. Unprivileged hosts always run commands as their own user.
	RunAs *Identity
}

// DefaultPath is the PATH of commands that do not set one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Local is the backend that runs commands on this machine, confined by
// package osconfine. Create it with NewLocal.
type Local struct {
	cfg      LocalConfig
	mu       sync.Mutex
	sessions map[SessionID]*localSession
}

var _ Backend = (*Local)(nil)

// NewLocal returns a local backend. It fails when RootDir cannot be created.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if cfg.RootDir == "" {
		cfg.RootDir = os.TempDir()
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	// A missing RootDir is made searchable but not listable by others
	// (whatever the umask): on a root host commands run as an unprivileged
	// identity that must reach its session's directory.
	if _, err := os.Stat(cfg.RootDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(cfg.RootDir, 0o711); err != nil {
			return nil, newError("new local backend", "", ErrIO, err)
		}
		if err := os.Chmod(cfg.RootDir, 0o711); err != nil {
			return nil, newError("new local backend", "", ErrIO, err)
		}
	}
	root, err := cleanHostPath(cfg.RootDir)
	if err != nil {
		return nil, newError("new local backend", "", ErrIO, err)
	}
	cfg.RootDir = root
	return &Local{cfg: cfg, sessions: make(map[SessionID]*localSession)}, nil
}

// Name returns "local".
func (l *Local) Name() string { return "local" }

// Capabilities reports the host's enforcement as probed by osconfine.
func (l *Local) Capabilities() Capabilities {
	s := osconfine.Probe()
	return Capabilities{
		LocalProcessSandbox: s.Filesystem.Enforced,
		NetworkPolicy:       s.NetworkDenyAll.Enforced,
		Snapshot:            true,
		Resume:              true,
		SuspendOnIdle:       true,
		Enforcement:         enforcementFrom(s),
	}
}

// localSession is one session's state. mu guards every field but the
// immutable ones (id, root, dirs).
type localSession struct {
	id      SessionID
	root    string // session directory
	work    string // workdir (read-write)
	home    string // HOME (read-write)
	tmp     string // TMPDIR (read-write)
	created time.Time

	mu         sync.Mutex
	labels     map[string]string
	mounts     []ResolvedMount
	network    NetworkPolicy
	limits     Limits
	profile    Profile
	prepared   *osconfine.Prepared // built lazily, dropped when the policy changes
	running    map[*osconfine.Child]struct{}
	terminated bool
	nextMount  int
	// owner is the identity commands run as when it is not the host's;
	// the session's directories belong to it.
	owner   *osconfine.Identity
	runAs   *osconfine.Identity // LocalConfig.RunAs
	sockets []string            // Spec.UnixSockets
	// Idle suspension: active counts Exec calls in progress; idle fires
	// IdleTimeout after the last one ended.
	suspended bool
	active    int
	idle      *time.Timer
	idleGen   uint64 // bumped on every re-arm, so a stale timer does nothing
}

// Provision creates the session directory, resolves the mounts and checks
// that the host can confine the session as asked. On any failure it removes
// what it created.
func (l *Local) Provision(ctx context.Context, spec Spec) (_ *Session, err error) {
	const op = "provision"
	id := spec.SessionID
	if id == "" {
		id = SessionID("local-" + uuid.Must(uuid.NewV7()).String())
	} else if err := id.Validate(); err != nil {
		return nil, newError(op, id, ErrInvalidRequest, err)
	}
	if err := spec.NetworkPolicy.Validate(); err != nil {
		return nil, newError(op, id, ErrInvalidRequest, err)
	}
	if err := spec.Limits.validate(); err != nil {
		return nil, newError(op, id, ErrInvalidRequest, err)
	}
	profile := spec.Profile
	switch profile {
	case "":
		profile = OSHardened
	case OSHardened, Unrestricted:
	default:
		return nil, invalid(op, id, "unknown profile %q", profile)
	}
	for _, sock := range spec.UnixSockets {
		if !filepath.IsAbs(sock) || strings.IndexByte(sock, 0) >= 0 {
			return nil, invalid(op, id, "unix socket %q is not an absolute path", sock)
		}
	}
	// Check every mount before anything is created.
	targets := map[string]bool{MemoryTarget: true, OutputsTarget: true}
	for _, m := range spec.Mounts {
		t, err := NormalizeTarget(m.Target)
		if err != nil {
			return nil, newError(op, id, ErrInvalidRequest, err)
		}
		if targets[t] {
			return nil, invalid(op, id, "duplicate mount target %s", t)
		}
		targets[t] = true
		if !validAccess(m.Access) {
			return nil, invalid(op, id, "mount %s: access %q is neither read_only nor read_write", t, m.Access)
		}
	}

	l.mu.Lock()
	if _, dup := l.sessions[id]; dup {
		l.mu.Unlock()
		return nil, invalid(op, id, "a session with this id exists")
	}
	// Reserve the id while the directory is built.
	l.sessions[id] = nil
	l.mu.Unlock()
	defer func() {
		if err != nil {
			l.mu.Lock()
			delete(l.sessions, id)
			l.mu.Unlock()
		}
	}()

	root := filepath.Join(l.cfg.RootDir, string(id))
	if err := os.Mkdir(root, 0o700); err != nil {
		return nil, newError(op, id, ErrIO, err)
	}
	// Every path a failed provision created lives under root, except new
	// absolute mount sources (with the parents made for them), removed
	// newest first.
	var createdOutside []string
	defer func() {
		if err != nil {
			os.RemoveAll(root)
			for _, d := range slices.Backward(createdOutside) {
				os.RemoveAll(d)
			}
		}
	}()

	s := &localSession{
		id: id, root: root, created: time.Now().UTC(),
		work: filepath.Join(root, "work"), home: filepath.Join(root, "home"), tmp: filepath.Join(root, "tmp"),
		labels: spec.Labels, network: spec.NetworkPolicy.normalized(), limits: spec.Limits.withDefaults(),
		profile: profile, running: make(map[*osconfine.Child]struct{}), runAs: osIdentity(l.cfg.RunAs),
		sockets: slices.Clone(spec.UnixSockets),
	}
	for _, d := range []string{s.work, s.home, s.tmp, filepath.Join(root, "mounts")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, newError(op, id, ErrIO, err)
		}
	}
	if profile == OSHardened {
		if owner, ok := osconfine.ChildIdentity(osconfine.Policy{RunAs: osIdentity(l.cfg.RunAs)}); ok {
			s.owner = &owner
			if err := giveTree(root, owner); err != nil {
				return nil, newError(op, id, ErrIO, err)
			}
			if err := osconfine.CheckAccess(root, owner, true); err != nil {
				return nil, invalid(op, id, "the session root must be reachable by the identity commands run as: %w", err)
			}
		}
	}
	canonical := []Mount{
		{Target: MemoryTarget, Access: ReadWrite},
		{Target: OutputsTarget, Access: ReadWrite},
	}
	for _, m := range append(canonical, spec.Mounts...) {
		rm, created, err := s.resolve(m)
		if err != nil {
			return nil, newError(op, id, ErrInvalidRequest, err)
		}
		if created != "" && !within(root, created) {
			createdOutside = append(createdOutside, created)
		}
		s.mounts = append(s.mounts, rm)
	}
	if _, err := s.preparedLocked(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.sessions[id] = s
	l.mu.Unlock()
	s.mu.Lock()
	s.armIdleLocked()
	s.mu.Unlock()
	return s.describe(), nil
}

// resolve turns a mount into a ResolvedMount for this session. Fresh
// directories go under root/mounts, which no rule grants as a whole, so a
// read-only fresh mount stays read-only.
func (s *localSession) resolve(m Mount) (ResolvedMount, string, error) {
	t, err := NormalizeTarget(m.Target)
	if err != nil {
		return ResolvedMount{}, "", err
	}
	fresh := filepath.Join(s.root, "mounts", fmt.Sprintf("%d-%s", s.nextMount, strings.ReplaceAll(strings.Trim(t, "/"), "/", "_")))
	s.nextMount++
	src, created, err := resolveSource(s.root, fresh, m)
	if err != nil {
		return ResolvedMount{}, created, fmt.Errorf("mount %s: %w", t, err)
	}
	if s.owner != nil {
		// Directories made for the session belong to the identity its
		// commands run as; a source that existed must be usable by it.
		if created != "" {
			err = giveTree(created, *s.owner)
		} else {
			err = osconfine.CheckAccess(src, *s.owner, m.Access == ReadWrite)
		}
		if err != nil {
			if created != "" {
				os.RemoveAll(created)
			}
			return ResolvedMount{}, "", fmt.Errorf("mount %s: %w", t, err)
		}
	}
	return ResolvedMount{Source: src, Target: t, Access: m.Access}, created, nil
}

// giveTree hands dir and everything below it (directories the backend just
// made) to id.
func giveTree(dir string, id osconfine.Identity) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(id.UID), int(id.GID))
	})
}

// describe returns the public view of the session. Caller holds no lock.
func (s *localSession) describe() *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.describeLocked()
}

func (s *localSession) describeLocked() *Session {
	st := StateRunning
	switch {
	case s.terminated:
		st = StateTerminated
	case s.suspended:
		st = StateSuspended
	}
	return &Session{
		ID: s.id, Backend: "local", State: st, Labels: s.labels, Root: s.root, Workdir: s.work,
		Mounts: slices.Clone(s.mounts), NetworkPolicy: s.network, Limits: s.limits, Profile: s.profile,
		CreatedAt: s.created, RunAs: publicIdentity(s.owner),
	}
}

// policyInput is what policy.go needs from the session. Caller holds mu.
func (s *localSession) policyInput() sessionPolicy {
	return sessionPolicy{
		writable: []string{s.work, s.home, s.tmp}, tempDir: s.tmp,
		mounts: s.mounts, network: s.network, limits: s.limits, runAs: s.runAs, unixSockets: s.sockets,
	}
}

// preparedLocked returns the session's prepared confinement, building it
// when the policy changed. Under Unrestricted it only validates the policy.
// Caller holds mu (or owns s exclusively).
func (s *localSession) preparedLocked() (*osconfine.Prepared, error) {
	if s.prepared != nil {
		return s.prepared, nil
	}
	p, err := buildPolicy(s.policyInput())
	if err != nil {
		return nil, newError("prepare", s.id, ErrInvalidRequest, err)
	}
	if s.profile == Unrestricted {
		return nil, nil
	}
	prep, err := osconfine.Prepare(p)
	if err != nil {
		kind := ErrExec
		if errors.Is(err, osconfine.ErrUnsupported) {
			kind = ErrUnsupported
		}
		return nil, newError("prepare", s.id, kind, err)
	}
	s.prepared = prep
	return prep, nil
}

// invalidateLocked drops the prepared confinement after a policy change.
func (s *localSession) invalidateLocked() {
	if s.prepared != nil {
		s.prepared.Close()
		s.prepared = nil
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

// AttachFilesystem adds a mount; the next Exec runs with it. A mount the
// session cannot enforce (a read-only mount inside a writable root) is
// refused and the session is left as it was.
func (l *Local) AttachFilesystem(ctx context.Context, id SessionID, m Mount) (ResolvedMount, error) {
	const op = "attach filesystem"
	s, err := l.session(op, id)
	if err != nil {
		return ResolvedMount{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return ResolvedMount{}, newError(op, id, ErrSessionNotFound, nil)
	}
	t, err := NormalizeTarget(m.Target)
	if err != nil {
		return ResolvedMount{}, newError(op, id, ErrInvalidRequest, err)
	}
	if !validAccess(m.Access) {
		return ResolvedMount{}, invalid(op, id, "mount %s: access %q is neither read_only nor read_write", t, m.Access)
	}
	for _, have := range s.mounts {
		if have.Target == t {
			return ResolvedMount{}, invalid(op, id, "duplicate mount target %s", t)
		}
	}
	rm, created, err := s.resolve(m)
	if err != nil {
		return ResolvedMount{}, newError(op, id, ErrInvalidRequest, err)
	}
	old, oldPrep := s.mounts, s.prepared
	s.mounts = append(slices.Clone(s.mounts), rm)
	s.prepared = nil
	if _, err := s.preparedLocked(); err != nil {
		s.mounts, s.prepared = old, oldPrep
		if created != "" {
			os.RemoveAll(created)
		}
		return ResolvedMount{}, err
	}
	if oldPrep != nil {
		oldPrep.Close()
	}
	return rm, nil
}

// ApplyNetworkPolicy replaces the network policy for the next Exec. A
// policy the host cannot enforce is refused and the old one stays.
func (l *Local) ApplyNetworkPolicy(ctx context.Context, id SessionID, p NetworkPolicy) error {
	const op = "apply network policy"
	s, err := l.session(op, id)
	if err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return newError(op, id, ErrInvalidRequest, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return newError(op, id, ErrSessionNotFound, nil)
	}
	old, oldPrep := s.network, s.prepared
	s.network, s.prepared = p.normalized(), nil
	if _, err := s.preparedLocked(); err != nil {
		s.network, s.prepared = old, oldPrep
		var e *Error
		if errors.As(err, &e) {
			e.Op = op
			e.Err = errors.Join(ErrNetworkPolicy, e.Err)
		}
		return err
	}
	if oldPrep != nil {
		oldPrep.Close()
	}
	return nil
}

// Exec runs one command in the session.
func (l *Local) Exec(ctx context.Context, id SessionID, req ExecRequest) (*ExecResult, error) {
	const op = "exec"
	if err := req.validate(); err != nil {
		return nil, newError(op, id, ErrInvalidRequest, err)
	}
	s, err := l.session(op, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.terminated {
		s.mu.Unlock()
		return nil, newError(op, id, ErrSessionNotFound, nil)
	}
	s.wakeLocked()
	s.active++
	defer func() {
		s.mu.Lock()
		s.active--
		s.armIdleLocked()
		s.mu.Unlock()
	}()
	prep, err := s.preparedLocked()
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	dir, err := s.resolveCwdLocked(req.Cwd)
	if err != nil {
		s.mu.Unlock()
		return nil, newError(op, id, ErrInvalidRequest, err)
	}
	base := s.baseEnvLocked(l.cfg.Path)
	limits := s.limits
	s.mu.Unlock()

	env := childEnv(base, req.Env)
	pathList := base["PATH"]
	if v, ok := req.Env["PATH"]; ok {
		pathList = v
	}
	bin, err := lookPath(req.Command, pathList, dir)
	if err != nil {
		return nil, newError(op, id, ErrExec, err)
	}
	cmd := &exec.Cmd{Path: bin, Args: append([]string{req.Command}, req.Args...), Env: env, Dir: dir}

	timeout := req.Timeout
	if timeout == 0 {
		timeout = limits.WallTime
	}
	start := osconfine.StartUnconfined
	if prep != nil {
		start = prep.Start
	}
	// Register the child so Terminate can kill it; refuse to start once
	// the session is terminating.
	tracked := func(c *exec.Cmd) (*osconfine.Child, error) {
		child, err := start(c)
		if errors.Is(err, osconfine.ErrClosed) {
			// An attach or policy change replaced the prepared policy
			// between the lookup and the start: start under the new one.
			s.mu.Lock()
			if s.terminated {
				s.mu.Unlock()
				return nil, errors.New("session terminated")
			}
			p, perr := s.preparedLocked()
			s.mu.Unlock()
			if perr != nil {
				return nil, perr
			}
			child, err = p.Start(c)
		}
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.terminated {
			s.mu.Unlock()
			child.Kill()
			child.Wait()
			return nil, errors.New("session terminated")
		}
		s.running[child] = struct{}{}
		s.mu.Unlock()
		go func() {
			<-child.Done()
			s.mu.Lock()
			delete(s.running, child)
			s.mu.Unlock()
		}()
		return child, nil
	}
	res, err := runCommand(ctx, tracked, cmd, &req, timeout, limits.MaxOutputBytes, limits.CPUTime, limits.MaxFileSizeMB > 0)
	if err != nil {
		if res != nil {
			return res, newError(op, id, ErrExec, err)
		}
		kind := ErrExec
		if errors.Is(err, osconfine.ErrUnsupported) {
			kind = ErrUnsupported
		}
		return nil, newError(op, id, kind, err)
	}
	return res, nil
}

// baseEnvLocked is the environment every command of the session starts with.
func (s *localSession) baseEnvLocked(path string) map[string]string {
	env := map[string]string{
		"PATH": path, "HOME": s.home, "TMPDIR": s.tmp, "LANG": "C.UTF-8",
		"SANDBOX_SESSION_ID": string(s.id),
	}
	for _, m := range s.mounts {
		switch m.Target {
		case MemoryTarget:
			env[MemoryEnv] = m.Source
		case OutputsTarget:
			env[OutputsEnv] = m.Source
		}
	}
	return env
}

// resolveCwdLocked maps a request's cwd to a host directory inside the
// session: relative to the workdir; absolute through the mount targets
// (longest first); or an absolute host path inside one of the session's
// roots. Anything else is refused.
func (s *localSession) resolveCwdLocked(cwd string) (string, error) {
	var host string
	switch {
	case cwd == "":
		return s.work, nil
	case !filepath.IsAbs(cwd):
		host = filepath.Join(s.work, cwd)
		if !within(s.work, host) {
			return "", fmt.Errorf("cwd %q leaves the workdir", cwd)
		}
	default:
		clean := filepath.Clean(cwd)
		best := -1
		for i, m := range s.mounts {
			if within(m.Target, clean) && (best < 0 || len(m.Target) > len(s.mounts[best].Target)) {
				best = i
			}
		}
		if best >= 0 {
			m := s.mounts[best]
			host = filepath.Join(m.Source, strings.TrimPrefix(clean, m.Target))
		} else {
			host = clean
		}
	}
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		return "", fmt.Errorf("cwd %q: %w", cwd, err)
	}
	roots := []string{s.work, s.home, s.tmp}
	for _, m := range s.mounts {
		roots = append(roots, m.Source)
	}
	for _, r := range roots {
		if within(r, real) {
			return real, nil
		}
	}
	return "", fmt.Errorf("cwd %q resolves to %s, outside every root of the session", cwd, real)
}

// Snapshot returns the session's description. The local backend does not
// copy files: the snapshot names the host paths that hold the state.
func (l *Local) Snapshot(ctx context.Context, id SessionID) (*Snapshot, error) {
	s, err := l.session("snapshot", id)
	if err != nil {
		return nil, err
	}
	return &Snapshot{Session: *s.describe(), TakenAt: time.Now().UTC()}, nil
}

// Resume brings a suspended session back to running; a running session
// is returned as it is.
func (l *Local) Resume(ctx context.Context, id SessionID) (*Session, error) {
	s, err := l.session("resume", id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakeLocked()
	s.armIdleLocked()
	return s.describeLocked(), nil
}

// armIdleLocked starts the idle clock when nothing runs in the session.
// When it expires with the session still idle, the session is suspended:
// no process runs in it (none does when it is idle) and its prepared
// confinement is released; files and settings stay.
func (s *localSession) armIdleLocked() {
	if s.limits.IdleTimeout <= 0 || s.terminated || s.suspended || s.active > 0 {
		return
	}
	if s.idle != nil {
		s.idle.Stop()
	}
	s.idleGen++
	gen := s.idleGen
	s.idle = time.AfterFunc(s.limits.IdleTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen == s.idleGen && s.active == 0 && len(s.running) == 0 && !s.terminated {
			s.suspended = true
			s.invalidateLocked()
		}
	})
}

// wakeLocked stops the idle clock and brings a suspended session back.
func (s *localSession) wakeLocked() {
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	s.idleGen++
	s.suspended = false
}

// Terminate kills every running command of the session, waits for them,
// removes the session directory (never the host sources of mounts outside
// it) and forgets the session.
func (l *Local) Terminate(ctx context.Context, id SessionID) error {
	const op = "terminate"
	l.mu.Lock()
	s := l.sessions[id]
	if s != nil {
		delete(l.sessions, id)
	}
	l.mu.Unlock()
	if s == nil {
		return newError(op, id, ErrSessionNotFound, nil)
	}
	s.mu.Lock()
	s.terminated = true
	s.wakeLocked()
	children := make([]*osconfine.Child, 0, len(s.running))
	for c := range s.running {
		children = append(children, c)
	}
	s.invalidateLocked()
	s.mu.Unlock()
	for _, c := range children {
		c.Kill()
	}
	for _, c := range children {
		c.Wait()
	}
	if err := os.RemoveAll(s.root); err != nil {
		return newError(op, id, ErrIO, err)
	}
	return nil
}
