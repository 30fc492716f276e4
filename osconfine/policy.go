package osconfine

import (
	"errors"
	"time"
)

// ErrUnsupported reports that this host cannot enforce part of a policy.
// The wrapping error names the missing mechanism.
var ErrUnsupported = errors.New("osconfine: not enforceable on this host")

// Access is a set of rights a [PathRule] grants below its path.
type Access uint8

const (
	// Read grants reading files and listing directories.
	Read Access = 1 << iota
	// Write grants creating, writing, truncating, renaming and removing.
	Write
	// Execute grants executing files.
	Execute
)

// PathRule grants Access to Path and, when Path is a directory, to
// everything below it.
type PathRule struct {
	// Path is an absolute host path. Symlinks in it are resolved by the
	// adapter before the rule is installed.
	Path   string
	Access Access
	// Optional rules name paths that may be absent on some hosts (for
	// example /lib64); a missing optional path is skipped, a missing
	// required one fails Prepare.
	Optional bool
}

// NetworkMode says which network access the child has.
type NetworkMode uint8

const (
	// NetworkUnrestricted leaves the network as the host has it.
	NetworkUnrestricted NetworkMode = iota
	// NetworkDenyAll refuses every socket but AF_UNIX.
	NetworkDenyAll
	// NetworkAllowList admits only a filtering proxy: the child runs in
	// Policy.Namespace, where the proxy listens on 127.0.0.1:ProxyPort, may
	// make TCP connections (seccomp refuses UDP, raw and other sockets) and,
	// with Landlock ABI >= 4, connect to that port only. Which hosts the
	// proxy admits is the proxy's business, not the OS layer's. Only a
	// root Linux host enforces it ([Support].NetworkAllowList); elsewhere
	// Prepare refuses it with ErrUnsupported.
	NetworkAllowList
)

func (m NetworkMode) String() string {
	switch m {
	case NetworkUnrestricted:
		return "unrestricted"
	case NetworkDenyAll:
		return "deny-all"
	case NetworkAllowList:
		return "allow-list"
	}
	return "unknown"
}

// Limits bounds the resources of the child. A zero field means no limit.
type Limits struct {
	MemoryBytes  uint64        // address space of each process (RLIMIT_AS), and the tree where a cgroup exists
	CPUTime      time.Duration // CPU time of each process (RLIMIT_CPU), rounded up to whole seconds
	CPUCount     int           // number of CPUs the child may run on (affinity)
	MaxProcesses uint64        // processes and threads (RLIMIT_NPROC, pids.max)
	MaxFileSize  uint64        // largest file the child may write (RLIMIT_FSIZE)
	MaxOpenFiles uint64        // open file descriptors (RLIMIT_NOFILE)
}

// Policy is everything a confined child may do. The zero value grants no
// path and leaves the network unrestricted.
type Policy struct {
	// Paths lists the paths the child may touch besides the system
	// baseline Prepare adds for the OS (programs, libraries, the
	// configuration they read, a few devices). Anything else is refused.
	Paths []PathRule
	// Network is the network mode.
	Network NetworkMode
	// Namespace and ProxyPort are the filtering proxy's network namespace
	// and loopback port, for NetworkAllowList.
	Namespace *NetworkNamespace
	ProxyPort uint16
	// UnixSockets lists pathname unix sockets the child may connect to.
	// Connecting to any other pathname socket is refused where the host
	// can tell sockets apart (see the Linux adapter for the ABI rules).
	UnixSockets []string
	// TempDir is the session's own temporary directory (also listed in
	// Paths); adapters that rewrite the system temp dir use it.
	TempDir string
	// Limits bounds resources; see Limits.
	Limits Limits
	// RunAs is the identity children run as where the adapter can give
	// them one (Linux, when the host runs as root); nil means
	// DefaultChildUID and DefaultChildGID there. See ChildIdentity.
	RunAs *Identity
}

// Identity is a numeric user and group; children that run under one have
// no supplementary groups.
type Identity struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// DefaultChildUID and DefaultChildGID are what children run as on a root
// host when the policy names no RunAs: nobody and nogroup on most systems.
// A child running as uid 0, even without any capability, owns the host's
// system files, and Landlock does not mediate chmod, chown or utimes on
// them. They are constants: which user commands run as is decided per
// policy (Policy.RunAs), never by a global a caller could change.
const (
	DefaultChildUID = 65534
	DefaultChildGID = 65534
)

var defaultChildIdentity = Identity{UID: DefaultChildUID, GID: DefaultChildGID}
