package osconfine

import "strings"

// execPromises returns the pledge(2) execpromises for a child confined by p
// on OpenBSD: the promises the kernel applies to the new image at execve,
// and to every image it execs in turn (execpromises are inherited and can
// only shrink).
//
// The base set lets ordinary tools run: stdio, reading, writing and creating
// files anywhere pledge allows (paths are not confined: unveil does not
// survive execve), changing file attributes, fork and exec, file locks (go
// build's cache, sqlite), user and group lookups, terminal ioctls, and
// PROT_EXEC mappings (JIT runtimes; ld.so maps libraries before kbind either
// way). "error" makes a forbidden call fail with ENOSYS instead of killing
// the process, as the Linux filter fails with an errno.
//
// Network: "inet dns" only when the network is not deny-all; "unix" when the
// network is unrestricted or the policy lists unix sockets. pledge cannot
// tell one unix socket path from another, so listing any admits all.
func execPromises(p Policy) string {
	ps := []string{"stdio", "rpath", "wpath", "cpath", "fattr", "flock", "getpw", "tty", "proc", "exec", "prot_exec", "error"}
	if p.Network != NetworkDenyAll {
		ps = append(ps, "inet", "dns")
	}
	if p.Network == NetworkUnrestricted || len(p.UnixSockets) > 0 {
		ps = append(ps, "unix")
	}
	return strings.Join(ps, " ")
}
