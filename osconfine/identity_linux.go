//go:build linux

package osconfine

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// childIdentity is p.RunAs or defaultChildIdentity on a root host, unless
// that is uid 0; an unprivileged host cannot give its children another
// identity.
func childIdentity(p Policy) (Identity, bool) {
	if inViewInit || !probeHost().root {
		// In a session init, commands run as uid 0 of the session's user
		// namespace (mapped to the view's owner), without capabilities.
		return Identity{}, false
	}
	id := defaultChildIdentity
	if p.RunAs != nil {
		id = *p.RunAs
	}
	if id.UID == 0 {
		return Identity{}, false
	}
	return id, true
}

// credential is the SysProcAttr credential for p's children, or nil.
func credential(p Policy) *syscall.Credential {
	id, ok := ChildIdentity(p)
	if !ok {
		return nil
	}
	// Groups empty (not nil): setgroups(0) drops root's supplementary
	// groups.
	return &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: []uint32{}}
}

// takeRealIDs sets the calling thread's real uid and gid to the identity
// its children will run as, keeping effective and saved ids 0. It runs on
// the spawner thread only (raw syscalls: Go's Setresuid would change every
// thread of the host). Setting a child's rlimits at the exec stop needs
// either CAP_SYS_RESOURCE, which a root host in a container often lacks,
// or real ids equal to the child's; with an effective uid of 0 the thread
// keeps its other capabilities.
func takeRealIDs(id Identity) error {
	const unchanged = ^uintptr(0)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id.GID), unchanged, unchanged); e != 0 {
		return fmt.Errorf("osconfine: setting the spawner thread's real gid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id.UID), unchanged, unchanged); e != 0 {
		return fmt.Errorf("osconfine: setting the spawner thread's real uid: %w", e)
	}
	return nil
}
