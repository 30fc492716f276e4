package sandbox

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

// This file is the one place that decides what of a session a child may
// touch: its own directories, its mounts, its network and its limits. What
// the OS's programs need besides (system directories, /etc, devices) is
// osconfine's to add.

// sessionPolicy is everything policy.go needs to know about a session.
type sessionPolicy struct {
	writable    []string // the session's own directories, read-write
	tempDir     string
	mounts      []ResolvedMount
	network     NetworkPolicy
	limits      Limits
	unixSockets []string
	runAs       *osconfine.Identity
	proxy       *sessionProxy // the filtering proxy of an allow-list
	// guest, when set, holds the guest paths of writable and tempDir:
	// the session has a view, and rules name paths as commands see them.
	guest *sessionPolicy
}

// buildPolicy turns a session's state into the osconfine.Policy every
// command of the session runs under. It refuses a read-only mount whose
// host path lies inside a writable root: Landlock rules add up, so that
// mount would be writable in fact.
func buildPolicy(s sessionPolicy) (osconfine.Policy, error) {
	var p osconfine.Policy
	rw := append([]string(nil), s.writable...)
	for _, m := range s.mounts {
		if m.Access == ReadWrite {
			rw = append(rw, m.Source)
		}
	}

	for _, m := range s.mounts {
		if m.Access != ReadOnly {
			continue
		}
		for _, w := range rw {
			if within(w, m.Source) {
				return p, fmt.Errorf("read-only mount %s (%s) lies inside the writable %s, so it cannot be made read-only", m.Target, m.Source, w)
			}
		}
	}
	// The check above is on host paths, where the rules meet. With a view
	// the rules name guest paths, and a read-only mount is read-only as a
	// mount too.
	writable, tempDir := s.writable, s.tempDir
	path := func(m ResolvedMount) string { return m.Source }
	if s.guest != nil {
		writable, tempDir = s.guest.writable, s.guest.tempDir
		path = func(m ResolvedMount) string { return m.Target }
	}
	for _, d := range writable {
		p.Paths = append(p.Paths, osconfine.PathRule{Path: d, Access: osconfine.Read | osconfine.Write | osconfine.Execute})
	}
	for _, m := range s.mounts {
		access := osconfine.Read | osconfine.Execute
		if m.Access == ReadWrite {
			access |= osconfine.Write
		}
		p.Paths = append(p.Paths, osconfine.PathRule{Path: path(m), Access: access})
	}

	switch {
	case s.network.Mode == NetworkUnrestricted:
		p.Network = osconfine.NetworkUnrestricted
	case s.network.IsDenyAll():
		p.Network = osconfine.NetworkDenyAll
	default:
		p.Network = osconfine.NetworkAllowList
		if s.proxy != nil {
			p.Namespace, p.ProxyPort = s.proxy.ns, s.proxy.port
		}
	}
	p.UnixSockets = s.unixSockets
	p.TempDir = tempDir
	p.Limits = osLimits(s.limits)
	p.RunAs = s.runAs
	return p, nil
}

// osLimits converts the session's limits to the adapter's units.
func osLimits(l Limits) osconfine.Limits {
	const mib = 1 << 20
	return osconfine.Limits{
		MemoryBytes:  l.MemoryMB * mib,
		CPUTime:      l.CPUTime.Round(time.Millisecond),
		CPUCount:     l.CPUCount,
		MaxProcesses: l.MaxProcesses,
		MaxFileSize:  l.MaxFileSizeMB * mib,
		MaxOpenFiles: l.MaxOpenFiles,
	}
}

// cleanHostPath resolves symlinks so that rules and containment checks
// compare real paths.
func cleanHostPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
