package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-sandbox/sandbox/osconfine"
)

// Guest paths of a session's own directories, where the session has a view
// of its own (see ViewMode). The workdir is where commands start and what a
// relative cwd resolves against, as in the Kubernetes backend.
const (
	WorkdirTarget = "/workspace"
	HomeTarget    = "/home/sandbox"
	TempTarget    = "/tmp"
)

// ViewMode says whether OSHardened sessions of the local backend get a view
// of their own: on Linux, a session init that owns the session's user,
// mount, PID, IPC and UTS namespaces, so that commands see mounts at their
// guest targets, the session's directories at WorkdirTarget, HomeTarget and
// TempTarget, only their own processes in /proc, and no host file outside
// the session. Unrestricted sessions never get one.
type ViewMode string

const (
	// ViewAuto (the default) gives sessions a view where the host can make
	// one (Capabilities().Enforcement.View), and otherwise runs commands
	// in the host's view: mount targets are then labels, commands use host
	// paths (SANDBOX_OUTPUTS_DIR and the like hold them), and
	// Capabilities says what is not enforced.
	ViewAuto ViewMode = ""
	// ViewRequired refuses to provision an OSHardened session the host
	// cannot give a view, with ErrUnsupported naming what is missing.
	ViewRequired ViewMode = "required"
	// ViewHost runs OSHardened commands in the host's view even where a
	// view could be made (confined by Landlock and seccomp as before).
	ViewHost ViewMode = "host"
)

// usesView reports whether OSHardened sessions of l get a view, or why not
// when the caller required one.
func (l *Local) usesView() (bool, error) {
	if l.cfg.View == ViewHost {
		return false, nil
	}
	if m := osconfine.Probe().View; !m.Enforced {
		if l.cfg.View == ViewRequired {
			return false, fmt.Errorf("%w: session view: %s", osconfine.ErrUnsupported, m.Reason)
		}
		return false, nil
	}
	return true, nil
}

// guestDirs are the session's own directories with their guest paths.
func (s *localSession) guestDirs() []ResolvedMount {
	return []ResolvedMount{
		{Source: s.work, Target: WorkdirTarget, Access: ReadWrite},
		{Source: s.home, Target: HomeTarget, Access: ReadWrite},
		{Source: s.tmp, Target: TempTarget, Access: ReadWrite},
	}
}

// reservedTargets are guest paths the view builds itself; no mount may
// replace them or go below them.
var reservedTargets = []string{"/proc", "/dev", "/sys", WorkdirTarget, HomeTarget, TempTarget}

// checkViewTarget refuses a mount target the view cannot show.
func checkViewTarget(t string) error {
	for _, r := range reservedTargets {
		if t == r || (within(r, t) && (r == "/proc" || r == "/dev" || r == "/sys")) {
			return fmt.Errorf("mount target %s: the session's view provides %s itself", t, r)
		}
	}
	return nil
}

// viewMounts are what the view shows: the session's directories and its
// mounts, at their guest paths.
func (s *localSession) viewMountsLocked() []osconfine.ViewMount {
	var out []osconfine.ViewMount
	for _, m := range append(s.guestDirs(), s.mounts...) {
		out = append(out, osconfine.ViewMount{Source: m.Source, Target: m.Target, ReadOnly: m.Access == ReadOnly})
	}
	// Sockets the session may reach appear at their host paths.
	for _, sock := range s.sockets {
		out = append(out, osconfine.ViewMount{Source: sock, Target: sock})
	}
	return out
}

// startView starts the session's view; Provision calls it once the mounts
// are resolved.
func (s *localSession) startViewLocked() error {
	stage := filepath.Join(s.root, viewStageName)
	if err := os.Mkdir(stage, 0o700); err != nil {
		return err
	}
	owner := osconfine.Identity{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	if s.owner != nil {
		owner = *s.owner
		if err := os.Lchown(stage, int(owner.UID), int(owner.GID)); err != nil {
			return err
		}
	}
	if err := s.makeMountPoints(s.mounts); err != nil {
		return err
	}
	if err := s.makeSocketMountPoints(); err != nil {
		return err
	}
	v, err := osconfine.StartView(osconfine.ViewSpec{Stage: stage, Mounts: s.viewMountsLocked(), Owner: owner})
	if err != nil {
		return err
	}
	s.view = v
	return nil
}

// viewStageName is the directory of a session root where its view's root
// filesystem is built (empty on the host: the view mounts over it).
const viewStageName = ".view"

// makeMountPoints creates, on the host, the mount point of each mount whose
// target lies below a directory the session made itself (its workdir, home,
// temp directory or a fresh mount), so the view can mount there. Below a
// caller's directory the mount point must already exist: the session never
// changes a caller's tree to make room.
func (s *localSession) makeMountPoints(ms []ResolvedMount) error {
	own := s.guestDirs()
	for _, m := range s.mounts {
		if within(filepath.Join(s.root, "mounts"), m.Source) {
			own = append(own, m)
		}
	}
	for _, m := range ms {
		for _, o := range own {
			if o.Target == m.Target || !within(o.Target, m.Target) {
				continue
			}
			dir := filepath.Join(o.Source, strings.TrimPrefix(m.Target, o.Target))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if s.owner != nil {
				if err := os.Lchown(dir, int(s.owner.UID), int(s.owner.GID)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// makeSocketMountPoints creates, on the host, an empty file where a unix
// socket the session may reach appears (at its host path) when that path
// lies below one of the session's own directories: every socket under the
// host's /tmp is below TempTarget. The view binds the socket over it; the
// init creates no entry in a bound host directory itself.
func (s *localSession) makeSocketMountPoints() error {
	for _, sock := range s.sockets {
		host, ok := hostPathIn(s.guestDirs(), sock)
		if !ok {
			continue
		}
		dir := filepath.Dir(host)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(host, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if s.owner != nil {
			for _, p := range []string{dir, host} {
				if err := os.Lchown(p, int(s.owner.UID), int(s.owner.GID)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// resolveGuestCwdLocked checks a request's cwd against the session's view
// and returns it as a guest path: relative to the workdir, or absolute
// inside one of the session's directories or mounts. It must exist.
func (s *localSession) resolveGuestCwdLocked(cwd string) (string, error) {
	guest := WorkdirTarget
	switch {
	case cwd == "":
	case !filepath.IsAbs(cwd):
		guest = filepath.Join(WorkdirTarget, cwd)
		if !within(WorkdirTarget, guest) {
			return "", fmt.Errorf("cwd %q leaves the workdir", cwd)
		}
	default:
		guest = filepath.Clean(cwd)
	}
	host, ok := hostPathIn(append(s.guestDirs(), s.mounts...), guest)
	if !ok {
		return "", fmt.Errorf("cwd %q is outside every directory and mount of the session", cwd)
	}
	if info, err := os.Stat(host); err != nil {
		return "", fmt.Errorf("cwd %q: %w", cwd, err)
	} else if !info.IsDir() {
		return "", fmt.Errorf("cwd %q is not a directory", cwd)
	}
	return guest, nil
}

// hostPathIn maps a guest path through ms (the deepest target first).
func hostPathIn(ms []ResolvedMount, guest string) (string, bool) {
	best := -1
	for i, m := range ms {
		if within(m.Target, guest) && (best < 0 || len(m.Target) > len(ms[best].Target)) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	m := ms[best]
	return filepath.Join(m.Source, strings.TrimPrefix(guest, m.Target)), true
}

// HostPath maps a path as the session's commands see it to the host path
// behind it, for callers that read what a command wrote: through the
// session's mounts and (with a view) its own directories, the deepest
// target first. In the host's view (no Dirs), a path inside the session
// root is its own host path. It fails for a path outside all of them, and
// for sessions of a backend whose commands do not run on this host.
func (s *Session) HostPath(guest string) (string, error) {
	if !filepath.IsAbs(guest) {
		return "", fmt.Errorf("%w: %q is not an absolute path", ErrInvalidRequest, guest)
	}
	guest = filepath.Clean(guest)
	if s.Root == "" {
		return "", fmt.Errorf("%w: the %s backend's commands do not run on this host", ErrUnsupported, s.Backend)
	}
	if p, ok := hostPathIn(slices.Concat(s.Mounts, s.Dirs), guest); ok {
		return p, nil
	}
	if len(s.Dirs) == 0 {
		// Commands see host paths: the session's own and the mounts'.
		if within(s.Root, guest) {
			return guest, nil
		}
		for _, m := range s.Mounts {
			if within(m.Source, guest) {
				return guest, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s is outside every directory and mount of the session", ErrInvalidRequest, guest)
}

// GuestPath maps a host path inside the session's directories or mounts to
// the path its commands see it at (the inverse of HostPath), for callers
// that place a file for a command: the deepest source first. In the host's
// view (no Dirs) commands see host paths, and a path inside the session
// root or a mount source is returned as it is.
func (s *Session) GuestPath(host string) (string, error) {
	if !filepath.IsAbs(host) {
		return "", fmt.Errorf("%w: %q is not an absolute path", ErrInvalidRequest, host)
	}
	host = filepath.Clean(host)
	if s.Root == "" {
		return "", fmt.Errorf("%w: the %s backend's commands do not run on this host", ErrUnsupported, s.Backend)
	}
	if len(s.Dirs) == 0 {
		if within(s.Root, host) {
			return host, nil
		}
		for _, m := range s.Mounts {
			if within(m.Source, host) {
				return host, nil
			}
		}
	}
	best := -1
	ms := slices.Concat(s.Mounts, s.Dirs)
	for i, m := range ms {
		if within(m.Source, host) && (best < 0 || len(m.Source) > len(ms[best].Source)) {
			best = i
		}
	}
	if best < 0 {
		return "", fmt.Errorf("%w: %s is outside every directory and mount of the session", ErrInvalidRequest, host)
	}
	return filepath.Join(ms[best].Target, strings.TrimPrefix(host, ms[best].Source)), nil
}
