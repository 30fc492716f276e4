//go:build linux

package osconfine

// probeView is Probe as it holds for commands inside a View: the view
// replaces what the host's view could not give.
func probeView() Support {
	s := Probe()
	if !s.View.Enforced {
		return s
	}
	s.HostFileMetadata = enforcedBy("host files outside the session's mounts do not exist in its view; the session's uid 0 maps to one host identity and has no capability")
	s.ProcessTree = enforcedBy("each command runs in a PID namespace of its own below the session init, whose first process is killed when the command ends; the session's PID namespace dies with the init, and the init with the host (Pdeathsig, and the end of its socket)")
	s.Privileges = enforcedBy("no_new_privs; no capability (empty bounding, inheritable and ambient sets); uid 0 of the session's own user namespace, mapped to one host identity")
	if s.NetworkDenyAll.Enforced {
		by := "filtering proxy (HTTP CONNECT, plain HTTP, SOCKS5) listening in the session's own network namespace, which has only loopback; seccomp admits only TCP sockets (no UDP, DNS, raw)"
		if s.LandlockABI >= 4 {
			by += "; Landlock TCP rules admit connect to the proxy's port only"
		}
		s.NetworkAllowList = enforcedBy(by)
	}
	return s
}
