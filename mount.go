package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Access is how a mount is exposed: its wire names are "read_only" and
// "read_write".
type Access string

const (
	ReadOnly  Access = "read_only"
	ReadWrite Access = "read_write"
)

// Mount exposes a host directory to a session's commands at a guest path.
type Mount struct {
	// Source is the host directory. Empty: a fresh directory under the
	// session root. Relative: under the session root, and it must stay
	// there. Absolute: used as is. A read-only source must exist; a
	// read-write one is created when missing. Terminate removes the
	// session root and what lies in it (fresh and relative sources), never
	// an absolute source outside it.
	Source string `json:"source,omitempty"`
	// Target is the absolute guest path ("/mnt/data"); a trailing '/' is
	// trimmed and any ".." segment is rejected.
	Target string `json:"target"`
	Access Access `json:"access"`
}

// ResolvedMount is a mount with its host path resolved.
type ResolvedMount struct {
	// Source is the absolute host path, symlinks resolved.
	Source string `json:"source"`
	Target string `json:"target"`
	Access Access `json:"access"`
}

// Canonical mounts every session gets, and the environment variables that
// tell commands their host paths (the local backend has no mount namespace,
// so commands use host paths).
const (
	MemoryTarget  = "/mnt/memory"
	OutputsTarget = "/mnt/session/outputs"
	MemoryEnv     = "SANDBOX_MEMORY_DIR"
	OutputsEnv    = "SANDBOX_OUTPUTS_DIR"
)

// NormalizeTarget returns the canonical form of a guest mount target:
// absolute, no "." or ".." segment, no NUL, no trailing '/', not "/" itself.
func NormalizeTarget(target string) (string, error) {
	if strings.IndexByte(target, 0) >= 0 {
		return "", errors.New("mount target contains a NUL byte")
	}
	if !strings.HasPrefix(target, "/") {
		return "", fmt.Errorf("mount target %q is not absolute", target)
	}
	for _, seg := range strings.Split(target, "/") {
		if seg == ".." || seg == "." {
			return "", fmt.Errorf("mount target %q has a %q segment", target, seg)
		}
	}
	t := path.Clean(target)
	if t == "/" {
		return "", errors.New("mount target may not be /")
	}
	return t, nil
}

// validAccess reports whether a is one of the two access modes.
func validAccess(a Access) bool { return a == ReadOnly || a == ReadWrite }

// resolveSource returns the host path of m's source for a session whose
// root is root; fresh names a new directory for an empty source. It creates
// the directory (and missing parents) when missing, and returns the topmost
// directory it created ("" for none), which removes all it made.
func resolveSource(root, fresh string, m Mount) (host, created string, err error) {
	if strings.IndexByte(m.Source, 0) >= 0 {
		return "", "", errors.New("mount source contains a NUL byte")
	}
	switch {
	case m.Source == "":
		host = fresh
	case filepath.IsAbs(m.Source):
		host = filepath.Clean(m.Source)
	default:
		host = filepath.Join(root, m.Source)
		if !within(root, host) || host == root {
			return "", "", fmt.Errorf("relative mount source %q leaves the session root", m.Source)
		}
	}
	if _, statErr := os.Stat(host); errors.Is(statErr, os.ErrNotExist) && m.Source != "" && m.Access == ReadOnly {
		// A read-only mount of a directory that does not exist is most
		// likely a typo: an empty directory made for it would hide it.
		return "", "", fmt.Errorf("read-only mount source %q does not exist", m.Source)
	} else if errors.Is(statErr, os.ErrNotExist) {
		created = topmostMissing(host)
		if err := os.MkdirAll(host, 0o700); err != nil {
			if created != "" {
				os.RemoveAll(created)
			}
			return "", "", fmt.Errorf("creating mount source: %w", err)
		}
	} else if statErr != nil {
		return "", "", statErr
	}
	fail := func(err error) (string, string, error) {
		if created != "" {
			os.RemoveAll(created)
		}
		return "", "", err
	}
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		return fail(err)
	}
	if m.Source != "" && !filepath.IsAbs(m.Source) && !within(root, real) {
		return fail(fmt.Errorf("relative mount source %q resolves outside the session root", m.Source))
	}
	info, err := os.Stat(real)
	if err != nil {
		return fail(err)
	}
	if !info.IsDir() {
		return fail(fmt.Errorf("mount source %q is not a directory", real))
	}
	return real, created, nil
}

// topmostMissing returns the highest ancestor of p (or p itself) that does
// not exist, which is the first directory MkdirAll(p) creates.
func topmostMissing(p string) string {
	missing := ""
	for dir := p; ; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(dir); err == nil {
			return missing
		}
		missing = dir
		if parent := filepath.Dir(dir); parent == dir {
			return missing
		}
	}
}

// within reports whether p is dir or below it. Both are clean absolute paths.
func within(dir, p string) bool {
	if p == dir {
		return true
	}
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}
