package sandbox

import "github.com/go-sandbox/sandbox/osconfine"

// The local backend's translation between the OS layer's report and
// identities and the root package's plain types.

func mechanismFrom(m osconfine.Mechanism) Mechanism { return Mechanism(m) }

// enforcementFrom converts the host's probe into the portable report.
func enforcementFrom(s osconfine.Support) Enforcement {
	return Enforcement{
		OS: s.OS, LandlockABI: s.LandlockABI,
		Filesystem:              mechanismFrom(s.Filesystem),
		NetworkDenyAll:          mechanismFrom(s.NetworkDenyAll),
		NetworkAllowList:        mechanismFrom(s.NetworkAllowList),
		UnixSockets:             mechanismFrom(s.UnixSockets),
		Syscalls:                mechanismFrom(s.Syscalls),
		ProcessTree:             mechanismFrom(s.ProcessTree),
		UnrestrictedProcessTree: mechanismFrom(s.UnrestrictedProcessTree),
		Privileges:              mechanismFrom(s.Privileges),
		HostFileMetadata:        mechanismFrom(s.HostFileMetadata),
		View:                    mechanismFrom(s.View),
		Limits: LimitSupport{
			Memory:       mechanismFrom(s.Limits.Memory),
			CPUTime:      mechanismFrom(s.Limits.CPUTime),
			CPUCount:     mechanismFrom(s.Limits.CPUCount),
			MaxProcesses: mechanismFrom(s.Limits.MaxProcesses),
			MaxFileSize:  mechanismFrom(s.Limits.MaxFileSize),
			MaxOpenFiles: mechanismFrom(s.Limits.MaxOpenFiles),
		},
	}
}

// osIdentity converts a caller's identity for the OS layer.
func osIdentity(id *Identity) *osconfine.Identity {
	if id == nil {
		return nil
	}
	return &osconfine.Identity{UID: id.UID, GID: id.GID}
}

// publicIdentity converts the OS layer's identity for callers.
func publicIdentity(id *osconfine.Identity) *Identity {
	if id == nil {
		return nil
	}
	return &Identity{UID: id.UID, GID: id.GID}
}
