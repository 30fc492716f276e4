package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

// localSession is one session's state. mu guards every field but the
// immutable ones (id, root and its directories, created, owner, runAs,
// sockets, env, stop, lock).
type localSession struct {
	id      SessionID
	root    string // session directory
	work    string // workdir (read-write)
	home    string // HOME (read-write)
	tmp     string // TMPDIR (read-write)
	created time.Time
	// owner is the identity commands run as when it is not the host's;
	// the session's directories belong to it.
	owner   *osconfine.Identity
	runAs   *osconfine.Identity // LocalConfig.RunAs
	sockets []string            // Spec.UnixSockets
	env     map[string]string   // Spec.Env
	// stop is closed by Terminate: running commands end with
	// ReasonTerminated and no Exec waits past it.
	stop chan struct{}
	// lock marks the root as owned by this process until Terminate.
	lock    *os.File
	backend *Local

	mu         sync.Mutex
	labels     map[string]string
	mounts     []ResolvedMount
	network    NetworkPolicy
	limits     Limits
	profile    Profile
	prepared   *osconfine.Prepared // built lazily, dropped when the policy changes
	view       *osconfine.View     // the session's own view, or nil (host's view)
	proxy      *sessionProxy       // the filtering proxy of an allow-list, or nil
	running    map[*osconfine.Child]struct{}
	procs      map[ProcessID]*localProcess // running processes, Exec's included
	nextProc   int
	terminated bool
	nextMount  int
	// Idle suspension: active counts Exec calls in progress; idle fires
	// IdleTimeout after the last one ended.
	suspended bool
	active    int
	idle      *time.Timer
	idleGen   uint64 // bumped on every re-arm, so a stale timer does nothing
}

// errTerminated tells Exec that the session ended before its command could
// start; Exec reports it as ErrSessionNotFound.
var errTerminated = errors.New("session terminated")

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
		CreatedAt: s.created, RunAs: publicIdentity(s.owner), Env: s.env, Dirs: s.dirsLocked(),
	}
}

// dirsLocked is Session.Dirs: the guest paths of the session's own
// directories when it has a view.
func (s *localSession) dirsLocked() []ResolvedMount {
	if s.view == nil {
		return nil
	}
	return s.guestDirs()
}

// policyInput is what policy.go needs from the session. Caller holds mu.
func (s *localSession) policyInput() sessionPolicy {
	in := sessionPolicy{
		writable: []string{s.work, s.home, s.tmp}, tempDir: s.tmp,
		mounts: s.mounts, network: s.network, limits: s.limits, runAs: s.runAs, unixSockets: s.sockets,
		proxy: s.proxy,
	}
	if s.view != nil {
		// Rules name what commands see: guest paths.
		in.guest = &sessionPolicy{writable: []string{WorkdirTarget, HomeTarget, TempTarget}, tempDir: TempTarget}
	}
	return in
}

// preparedLocked returns the session's prepared confinement, building it
// when the policy changed, and names op (the caller's call) in its errors.
// Under Unrestricted it only validates the policy and returns nil. Caller
// holds mu (or owns s exclusively).
func (s *localSession) preparedLocked(op string) (*osconfine.Prepared, error) {
	if s.prepared != nil {
		return s.prepared, nil
	}
	if err := s.ensureProxyLocked(); err != nil {
		kind := ErrExec
		if errors.Is(err, osconfine.ErrUnsupported) {
			kind = ErrUnsupported
		}
		return nil, newError(op, s.id, kind, err)
	}
	p, err := buildPolicy(s.policyInput())
	if err != nil {
		return nil, newError(op, s.id, ErrInvalidRequest, err)
	}
	if s.profile == Unrestricted {
		if p.Network == osconfine.NetworkAllowList {
			return nil, newError(op, s.id, ErrNetworkPolicy,
				errors.New("a per-host allow-list is never applied to Unrestricted commands; use OSHardened, or AllowAll"))
		}
		return nil, nil
	}
	var prep *osconfine.Prepared
	if s.view != nil {
		prep, err = s.view.Prepare(p)
	} else {
		prep, err = osconfine.Prepare(p)
	}
	if err != nil {
		kind := ErrExec
		switch {
		case errors.Is(err, osconfine.ErrUnsupported):
			kind = ErrUnsupported
		case errors.Is(err, osconfine.ErrLimitRange):
			kind = ErrInvalidRequest
		}
		return nil, newError(op, s.id, kind, err)
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

// baseEnvLocked is the environment every command of the session starts
// with: the fixed base, then the session's own Spec.Env.
func (s *localSession) baseEnvLocked(path string) map[string]string {
	env := map[string]string{
		"PATH": path, "HOME": s.home, "TMPDIR": s.tmp, "LANG": "C.UTF-8",
		"SANDBOX_SESSION_ID": string(s.id),
	}
	if s.view != nil {
		env["HOME"], env["TMPDIR"] = HomeTarget, TempTarget
	}
	for _, m := range s.mounts {
		p := m.Source
		if s.view != nil {
			p = m.Target
		}
		switch m.Target {
		case MemoryTarget:
			env[MemoryEnv] = p
		case OutputsTarget:
			env[OutputsEnv] = p
		}
	}
	if s.proxy != nil {
		s.proxy.proxyEnv(env)
	}
	for k, v := range s.env {
		env[k] = v
	}
	return env
}

// execPlan is what one Exec takes from its session under the lock.
type execPlan struct {
	prep   *osconfine.Prepared // nil: Unrestricted
	dir    string              // directory the command starts in (a guest path with a view)
	inView bool                // the command starts in the session's view
	env    map[string]string   // base environment (before the request's)
	limits Limits
	proxy  *sessionProxy // for the result's network summary; nil without an allow-list
}

// beginExec wakes the session, counts an Exec in progress and returns what
// the command needs. On success the caller must call endExec.
func (s *localSession) beginExec(op string, cwd, path string) (execPlan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return execPlan{}, newError(op, s.id, ErrSessionNotFound, nil)
	}
	s.wakeLocked()
	prep, err := s.preparedLocked(op)
	if err != nil {
		s.armIdleLocked()
		return execPlan{}, err
	}
	resolve := s.resolveCwdLocked
	if s.view != nil && prep != nil {
		resolve = s.resolveGuestCwdLocked
	}
	dir, err := resolve(cwd)
	if err != nil {
		s.armIdleLocked()
		return execPlan{}, newError(op, s.id, ErrInvalidRequest, err)
	}
	s.active++
	return execPlan{prep: prep, dir: dir, env: s.baseEnvLocked(path), limits: s.limits, proxy: s.proxy,
		inView: s.view != nil && prep != nil}, nil
}

// endExec ends what beginExec began and restarts the idle clock.
func (s *localSession) endExec() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	s.armIdleLocked()
}

// startTracked starts cmd under the session's current confinement and
// registers the child, so that Terminate kills it. It refuses to start
// once the session is terminating (errTerminated).
func (s *localSession) startTracked(op string, prep *osconfine.Prepared, cmd *exec.Cmd) (*osconfine.Child, error) {
	var child *osconfine.Child
	var err error
	if prep == nil {
		child, err = osconfine.StartUnconfined(cmd)
	} else {
		child, err = prep.Start(cmd)
		if errors.Is(err, osconfine.ErrClosed) {
			// An attach or policy change replaced the prepared policy
			// between the lookup and the start: start under the new one.
			s.mu.Lock()
			if s.terminated {
				s.mu.Unlock()
				return nil, errTerminated
			}
			p, perr := s.preparedLocked(op)
			s.mu.Unlock()
			if perr != nil {
				return nil, perr
			}
			child, err = p.Start(cmd)
		}
	}
	if err != nil {
		// Terminate may have ended the session's view meanwhile: the
		// start failed because the session is gone.
		s.mu.Lock()
		terminated := s.terminated
		s.mu.Unlock()
		if terminated {
			return nil, errTerminated
		}
		return nil, err
	}
	s.mu.Lock()
	if s.terminated {
		s.mu.Unlock()
		child.Kill()
		child.Wait()
		return nil, errTerminated
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
