package osconfine

// OpenBSD has no filesystem confinement a parent can hand to a child:
// unveil(2) is dropped at execve, and Go has no hook between fork and exec
// to unveil in the child. pledge(2) execpromises could be handed on through a
// re-exec of the host, but they confine syscalls, not paths (rpath, wpath
// and cpath admit every path file permissions admit), so a policy would
// still not be enforced, and Prepare fails closed. What OpenBSD gets is
// StartUnconfined: the command leads its own session and process group,
// killed on Kill and when the command exits.

func probe() Support {
	none := notEnforced
	fs := none("unveil does not survive execve and Go has no hook between fork and exec")
	noLimit := none("resource limits need a re-exec of the host to set them, which is not built")
	return Support{
		OS:               "openbsd",
		Filesystem:       fs,
		NetworkDenyAll:   none("no network confinement without filesystem confinement (pledge is not used)"),
		NetworkAllowList: none("pledge cannot filter by host and no proxy is configured"),
		UnixSockets:      fs,
		Syscalls:         none("pledge is not used: without filesystem confinement no policy is enforced"),
		Privileges:       none("no no-new-privileges switch"),
		HostFileMetadata: none("the child runs as the host's user"),
		ProcessTree:      enforcedBy("process group killed on Kill and on exit (a process that calls setsid or setpgid escapes)"),
		Limits:           LimitSupport{noLimit, noLimit, none("OpenBSD has no CPU affinity"), noLimit, noLimit, noLimit},
	}
}
