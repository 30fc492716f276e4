package kube

import (
	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
)

var (
	enforcedBy  = sandbox.EnforcedBy
	notEnforced = sandbox.NotEnforced
)

// Capabilities reports what a session's pod enforces with this
// configuration. What depends on the cluster and cannot be observed (the
// CNI) is taken from the configuration; what depends on the security
// context is read from the one the pods get.
func (b *Backend) Capabilities() sandbox.Capabilities {
	return sandbox.Capabilities{
		LocalProcessSandbox: false,
		NetworkPolicy:       b.cfg.NetworkPolicyEnforced,
		Snapshot:            true,
		Resume:              b.cfg.Mode == ModeAgentSandbox,
		SuspendOnIdle:       b.cfg.Mode == ModeAgentSandbox,
		Enforcement:         b.enforcement(),
	}
}

func (b *Backend) enforcement() enforcement {
	e := enforcement{OS: "kubernetes"}
	runtime := "the container runtime"
	if b.cfg.RuntimeClassName != "" {
		runtime = "runtime class " + b.cfg.RuntimeClassName
	}
	e.Filesystem = enforcedBy("the pod's own mount namespace (" + runtime + "): only its image, its emptyDirs and its configured volumes")
	if sc := b.containerSecurityContext(); sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		e.Filesystem.By += "; the root filesystem is writable (Config.SecurityContext)"
	}
	if b.cfg.NetworkPolicyEnforced {
		e.NetworkDenyAll = enforcedBy("a NetworkPolicy per session (the cluster's CNI, per Config.NetworkPolicyEnforced)")
		e.NetworkAllowList = enforcedBy("NetworkPolicy ipBlock rules: IP addresses only, host names are refused")
	} else {
		why := "Config.NetworkPolicyEnforced is false: the NetworkPolicy is created but the cluster's CNI may ignore it"
		e.NetworkDenyAll, e.NetworkAllowList = notEnforced(why), notEnforced(why)
	}
	e.UnixSockets = enforcedBy("the pod shares no unix socket with the host process's machine; Spec.UnixSockets is refused")
	e.Syscalls = b.syscalls()
	e.ProcessTree = enforcedBy("timeout(1) inside the pod kills a command's process group, a second exec kills what a closed stream left, deleting the pod kills every process in it")
	// The profile does not change the pod: Unrestricted commands die with
	// it all the same.
	e.UnrestrictedProcessTree = e.ProcessTree
	e.Privileges = b.privileges()
	e.HostFileMetadata = enforcedBy("node files are outside the pod's mount namespace")
	e.View = enforcedBy("the pod's own mount and PID namespaces (" + runtime + "): volumes at their mount paths, the workdir at Config.Workdir, its own /proc, no node file outside them")
	e.Limits = b.limitSupport()
	return e
}

func (b *Backend) podSecurityContext() *corev1.PodSecurityContext {
	if b.cfg.PodSecurityContext != nil {
		return b.cfg.PodSecurityContext
	}
	return DefaultPodSecurityContext()
}

func (b *Backend) containerSecurityContext() *corev1.SecurityContext {
	if b.cfg.SecurityContext != nil {
		return b.cfg.SecurityContext
	}
	return DefaultSecurityContext()
}

// syscalls reads the seccomp profile the container gets (its own, else
// the pod's).
func (b *Backend) syscalls() mechanism {
	prof := b.containerSecurityContext().SeccompProfile
	if prof == nil {
		prof = b.podSecurityContext().SeccompProfile
	}
	switch {
	case prof == nil:
		return notEnforced("no seccomp profile in the security context: the pod runs Unconfined unless the kubelet defaults to RuntimeDefault")
	case prof.Type == corev1.SeccompProfileTypeRuntimeDefault:
		return enforcedBy("seccomp profile RuntimeDefault")
	case prof.Type == corev1.SeccompProfileTypeLocalhost && prof.LocalhostProfile != nil:
		return enforcedBy("seccomp profile Localhost " + *prof.LocalhostProfile)
	}
	return notEnforced("seccomp profile " + string(prof.Type))
}

// privileges checks the security context for the four settings that keep
// a command unprivileged.
func (b *Backend) privileges() mechanism {
	sc, psc := b.containerSecurityContext(), b.podSecurityContext()
	isTrue := func(p *bool) bool { return p != nil && *p }
	nonRoot := isTrue(sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && isTrue(psc.RunAsNonRoot))
	switch {
	case isTrue(sc.Privileged):
		return notEnforced("the container is privileged")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		return notEnforced("allowPrivilegeEscalation is not false")
	case !nonRoot:
		return notEnforced("runAsNonRoot is not set: the image may run commands as root")
	case sc.Capabilities == nil || !dropsAll(sc.Capabilities):
		return notEnforced("the container does not drop every capability")
	}
	return enforcedBy("non-root user, no privilege escalation, every capability dropped")
}

func dropsAll(c *corev1.Capabilities) bool {
	if len(c.Add) > 0 {
		return false
	}
	for _, d := range c.Drop {
		if d == "ALL" {
			return true
		}
	}
	return false
}

// limitSupport says how each limit reaches the pod.
func (b *Backend) limitSupport() limitSupport {
	return limitSupport{
		Memory:       enforcedBy("container memory limit (the cgroup of the whole container, not each process's address space)"),
		CPUCount:     enforcedBy("container CPU limit (CFS quota)"),
		CPUTime:      enforcedBy("ulimit -t in the pod's shell before the command starts"),
		MaxOpenFiles: enforcedBy("ulimit -n in the pod's shell before the command starts"),
		MaxProcesses: notEnforced("a pod spec has no process limit: it is the kubelet's podPidsLimit, a node setting"),
		MaxFileSize:  notEnforced("not applied: ulimit -f counts in blocks whose size differs between shells"),
	}
}
