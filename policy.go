package sandbox

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

// This file is the one place that decides what a child may touch.

// systemReadExec are the directories of programs and libraries: read and
// execute, never write. Missing ones are skipped.
var systemReadExec = []string{
	"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
}

// etcEntries are the parts of /etc that ordinary programs read: the dynamic
// loader's cache, name service files, TLS roots, time zone, locale and shell
// start-up files. /etc itself is not granted, so /etc/shadow, /etc/gshadow,
// /etc/ssh (host keys), /etc/sudoers and anything else stay out, also when
// the command runs as uid 0.
var etcEntries = []string{
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/host.conf",
	"/etc/hosts", "/etc/resolv.conf", "/etc/gai.conf", "/etc/protocols", "/etc/services",
	"/etc/ssl", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/pki", "/etc/crypto-policies",
	"/etc/localtime", "/etc/timezone", "/etc/locale.alias", "/etc/locale.conf", "/etc/default/locale",
	"/etc/alternatives", "/etc/os-release", "/etc/debian_version", "/etc/lsb-release",
	"/etc/mime.types", "/etc/magic", "/etc/terminfo", "/etc/inputrc",
	"/etc/bash.bashrc", "/etc/profile", "/etc/profile.d", "/etc/shells", "/etc/environment",
	"/etc/gitconfig", "/etc/mtab", "/etc/machine-id", "/etc/hostname",
}

// devices the command may use; nothing else under /dev is reachable.
var devices = []osconfine.PathRule{
	{Path: "/dev/null", Access: osconfine.Read | osconfine.Write},
	{Path: "/dev/zero", Access: osconfine.Read | osconfine.Write},
	{Path: "/dev/full", Access: osconfine.Read | osconfine.Write, Optional: true},
	{Path: "/dev/random", Access: osconfine.Read},
	{Path: "/dev/urandom", Access: osconfine.Read},
}

// procAndSys: /proc is readable so that programs find their own
// /proc/self; the kernel checks ptrace access (which Landlock scopes to the
// sandbox) before it shows another process's environ, fds or memory.
// Nothing under /proc is writable. Only the CPU topology of /sys is read.
var procAndSys = []osconfine.PathRule{
	{Path: "/proc", Access: osconfine.Read},
	{Path: "/sys/devices/system/cpu", Access: osconfine.Read, Optional: true},
}

// sessionPolicy is everything policy.go needs to know about a session.
type sessionPolicy struct {
	writable    []string // the session's own directories, read-write
	tempDir     string
	mounts      []ResolvedMount
	network     NetworkPolicy
	limits      Limits
	unixSockets []string
	runAs       *osconfine.Identity
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
	for _, d := range rw {
		p.Paths = append(p.Paths, osconfine.PathRule{Path: d, Access: osconfine.Read | osconfine.Write | osconfine.Execute})
	}
	for _, m := range s.mounts {
		if m.Access == ReadOnly {
			p.Paths = append(p.Paths, osconfine.PathRule{Path: m.Source, Access: osconfine.Read | osconfine.Execute})
		}
	}
	for _, d := range systemReadExec {
		p.Paths = append(p.Paths, osconfine.PathRule{Path: d, Access: osconfine.Read | osconfine.Execute, Optional: true})
	}
	for _, e := range etcEntries {
		p.Paths = append(p.Paths, osconfine.PathRule{Path: e, Access: osconfine.Read, Optional: true})
	}
	p.Paths = append(p.Paths, devices...)
	p.Paths = append(p.Paths, procAndSys...)

	switch {
	case s.network.Mode == NetworkUnrestricted:
		p.Network = osconfine.NetworkUnrestricted
	case s.network.IsDenyAll():
		p.Network = osconfine.NetworkDenyAll
	default:
		p.Network = osconfine.NetworkAllowList
		p.AllowedHosts = append([]string(nil), s.network.AllowedHosts...)
	}
	p.UnixSockets = s.unixSockets
	p.TempDir = s.tempDir
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
