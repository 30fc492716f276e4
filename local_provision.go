package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/go-sandbox/sandbox/osconfine"
)

// Provision creates the session directory, resolves the mounts and checks
// that the host can confine the session as asked. On any failure it removes
// what it created.
func (l *Local) Provision(ctx context.Context, spec Spec) (_ *Session, err error) {
	const op = "provision"
	id, profile, err := checkSpec(spec)
	if err != nil {
		return nil, err
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
	lock, err := createSessionRoot(root, id)
	if err != nil {
		return nil, newError(op, id, ErrIO, err)
	}
	// Every path a failed provision created lives under root, except new
	// absolute mount sources (with the parents made for them), removed
	// newest first.
	var createdOutside []string
	var s *localSession
	defer func() {
		if err != nil {
			if s != nil && s.proxy != nil {
				s.proxy.close()
			}
			if s != nil && s.view != nil {
				s.view.Close()
			}
			os.RemoveAll(root)
			lock.Close()
			for _, d := range slices.Backward(createdOutside) {
				os.RemoveAll(d)
			}
		}
	}()

	s = &localSession{backend: l,
		id: id, root: root, created: time.Now().UTC(),
		work: filepath.Join(root, "work"), home: filepath.Join(root, "home"), tmp: filepath.Join(root, "tmp"),
		labels: spec.Labels, network: spec.NetworkPolicy.normalized(), limits: spec.Limits.withDefaults(),
		profile: profile, running: make(map[*osconfine.Child]struct{}), procs: make(map[ProcessID]*localProcess), runAs: osIdentity(l.cfg.RunAs),
		sockets: slices.Clone(spec.UnixSockets), env: cloneMap(spec.Env), stop: make(chan struct{}), lock: lock,
	}
	for _, d := range []string{s.work, s.home, s.tmp, filepath.Join(root, "mounts")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, newError(op, id, ErrIO, err)
		}
	}
	if profile == OSHardened {
		if owner, ok := osconfine.ChildIdentity(osconfine.Policy{RunAs: s.runAs}); ok {
			s.owner = &owner
			if err := giveTree(root, owner); err != nil {
				return nil, newError(op, id, ErrIO, err)
			}
			if err := osconfine.CheckAccess(root, owner, true); err != nil {
				return nil, invalid(op, id, "the session root must be reachable by the identity commands run as: %w", err)
			}
		}
	}
	view := false
	if profile == OSHardened {
		if view, err = l.usesView(); err != nil {
			return nil, newError(op, id, ErrUnsupported, err)
		}
	}
	for _, m := range withCanonicalMounts(spec.Mounts) {
		if view {
			if t, _ := NormalizeTarget(m.Target); checkViewTarget(t) != nil {
				return nil, newError(op, id, ErrInvalidRequest, checkViewTarget(t))
			}
		}
		rm, created, err := s.resolve(m)
		if err != nil {
			return nil, newError(op, id, ErrInvalidRequest, err)
		}
		if created != "" && !within(root, created) {
			createdOutside = append(createdOutside, created)
		}
		s.mounts = append(s.mounts, rm)
	}
	if view {
		if err := s.startViewLocked(); err != nil {
			kind := ErrExec
			switch {
			case errors.Is(err, osconfine.ErrUnsupported):
				kind = ErrUnsupported
			case errors.Is(err, fs.ErrNotExist):
				kind = ErrInvalidRequest
			}
			return nil, newError(op, id, kind, err)
		}
	}
	if _, err := s.preparedLocked(op); err != nil {
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

// checkSpec validates everything in spec that needs no host access and
// returns the session id (minted when absent) and the profile.
func checkSpec(spec Spec) (SessionID, Profile, error) {
	const op = "provision"
	id := spec.SessionID
	if id == "" {
		id = SessionID("local-" + uuid.Must(uuid.NewV7()).String())
	} else if err := id.Validate(); err != nil {
		return id, "", newError(op, id, ErrInvalidRequest, err)
	}
	if err := spec.NetworkPolicy.validate(); err != nil {
		return id, "", newError(op, id, ErrNetworkPolicy, err)
	}
	if err := spec.Limits.validate(); err != nil {
		return id, "", newError(op, id, ErrInvalidRequest, err)
	}
	if err := ValidateEnv(spec.Env); err != nil {
		return id, "", newError(op, id, ErrInvalidRequest, fmt.Errorf("spec env: %w", err))
	}
	profile := spec.Profile
	switch profile {
	case "":
		profile = OSHardened
	case OSHardened, Unrestricted:
	default:
		return id, "", invalid(op, id, "unknown profile %q", profile)
	}
	for _, sock := range spec.UnixSockets {
		if !filepath.IsAbs(sock) || strings.IndexByte(sock, 0) >= 0 {
			return id, "", invalid(op, id, "unix socket %q is not an absolute path", sock)
		}
	}
	targets := map[string]bool{}
	for _, m := range spec.Mounts {
		t, err := NormalizeTarget(m.Target)
		if err != nil {
			return id, "", newError(op, id, ErrInvalidRequest, err)
		}
		if targets[t] {
			return id, "", invalid(op, id, "duplicate mount target %s", t)
		}
		targets[t] = true
		if !validAccess(m.Access) {
			return id, "", invalid(op, id, "mount %s: access %q is neither read_only nor read_write", t, m.Access)
		}
	}
	return id, profile, nil
}

// withCanonicalMounts returns the canonical mounts followed by the
// caller's; a caller mount at a canonical target replaces the default one
// (fresh, read-write), so outputs can go to a directory of the caller's
// that outlives the session and memory can carry over between sessions.
func withCanonicalMounts(mounts []Mount) []Mount {
	var out []Mount
	for _, t := range []string{MemoryTarget, OutputsTarget} {
		m := Mount{Target: t, Access: ReadWrite}
		for _, c := range mounts {
			if ct, _ := NormalizeTarget(c.Target); ct == t {
				m = c
			}
		}
		out = append(out, m)
	}
	for _, c := range mounts {
		if ct, _ := NormalizeTarget(c.Target); ct != MemoryTarget && ct != OutputsTarget {
			out = append(out, c)
		}
	}
	return out
}

// resolve turns a mount into a ResolvedMount for this session. Fresh
// directories go under root/mounts, which no rule grants as a whole, so a
// read-only fresh mount stays read-only.
func (s *localSession) resolve(m Mount) (ResolvedMount, string, error) {
	t, err := NormalizeTarget(m.Target)
	if err != nil {
		return ResolvedMount{}, "", err
	}
	fresh := filepath.Join(s.root, "mounts", freshMountName(s.nextMount, t))
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
// made) to id; the root's lock file stays the host's.
func giveTree(dir string, id osconfine.Identity) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if filepath.Base(p) == sessionLockName && filepath.Dir(p) == dir {
			return nil
		}
		return os.Lchown(p, int(id.UID), int(id.GID))
	})
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
