//go:build !linux && !darwin && !windows && !openbsd

package osconfine

import "runtime"

func probe() Support {
	none := notEnforced("no confinement adapter for " + runtime.GOOS)
	return Support{
		OS: runtime.GOOS, Filesystem: none, NetworkDenyAll: none, NetworkAllowList: none,
		UnixSockets: none, Syscalls: none, ProcessTree: none, Privileges: none, HostFileMetadata: none,
		Limits: LimitSupport{none, none, none, none, none, none},
	}
}
