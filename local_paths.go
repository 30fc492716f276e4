package sandbox

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Path resolution between what a request names and the host.

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
