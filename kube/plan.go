package kube

import (
	"fmt"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
)

// plan is what Provision decided for a session; every object is built
// from it.
type plan struct {
	name    string
	session sandbox.Session // as Provision reports it
	volumes []corev1.Volume // the caller mounts' volumes
	mounts  []corev1.VolumeMount
}

// record is the part of the session kept in AnnotationSession: enough for
// another process to describe and use the session.
type record struct {
	ID            sandbox.SessionID       `json:"session_id"`
	Labels        map[string]string       `json:"labels,omitempty"`
	Workdir       string                  `json:"workdir"`
	Mounts        []sandbox.ResolvedMount `json:"mounts"`
	NetworkPolicy sandbox.NetworkPolicy   `json:"network_policy"`
	Limits        sandbox.Limits          `json:"limits"`
	Profile       sandbox.Profile         `json:"profile"`
	CreatedAt     time.Time               `json:"created_at"`
	Env           map[string]string       `json:"env,omitempty"`
}

func (p *plan) record() record {
	s := &p.session
	return record{ID: s.ID, Labels: s.Labels, Workdir: s.Workdir, Mounts: s.Mounts, NetworkPolicy: s.NetworkPolicy,
		Limits: s.Limits, Profile: s.Profile, CreatedAt: s.CreatedAt, Env: s.Env}
}

// session turns a record back into a Session; the state comes from the
// objects.
func (r record) session(backend string, state sandbox.State) *sandbox.Session {
	return &sandbox.Session{ID: r.ID, Backend: backend, State: state, Labels: r.Labels, Workdir: r.Workdir,
		Mounts: r.Mounts, NetworkPolicy: r.NetworkPolicy, Limits: r.Limits, Profile: r.Profile, CreatedAt: r.CreatedAt,
		Env: r.Env}
}

// plan validates spec and decides the session's id, name, mounts and
// volumes. Every refusal is an *sandbox.Error of the matching kind.
func (b *Backend) plan(spec sandbox.Spec) (*plan, error) {
	const op = "provision"
	id := spec.SessionID
	if id == "" {
		id = sandbox.SessionID("kube-" + uuid.Must(uuid.NewV7()).String())
	} else if err := id.Validate(); err != nil {
		return nil, invalid(op, "", "%v", err)
	}
	switch spec.Profile {
	case "", sandbox.OSHardened, sandbox.Unrestricted:
	default:
		return nil, invalid(op, id, "unknown profile %q", spec.Profile)
	}
	profile := spec.Profile
	if profile == "" {
		profile = sandbox.OSHardened
	}
	if err := spec.NetworkPolicy.Validate(); err != nil {
		return nil, newError(op, id, sandbox.ErrNetworkPolicy, err)
	}
	if err := sandbox.ValidateEnv(spec.Env); err != nil {
		return nil, newError(op, id, sandbox.ErrInvalidRequest, fmt.Errorf("spec env: %w", err))
	}
	if len(spec.UnixSockets) > 0 {
		return nil, unsupported(op, id, "unix sockets", "a pod cannot reach unix sockets of the host process's machine; mount the socket's directory as a volume instead")
	}
	limits, err := b.checkLimits(op, id, spec.Limits, profile)
	if err != nil {
		return nil, err
	}
	policy := normalizedPolicy(spec.NetworkPolicy)
	if err := b.checkNetwork(op, id, policy, profile); err != nil {
		return nil, err
	}
	p := &plan{name: objectName(id)}
	p.session = sandbox.Session{
		ID: id, Backend: b.Name(), State: sandbox.StateRunning, Labels: spec.Labels,
		Workdir: b.cfg.Workdir, NetworkPolicy: policy, Limits: limits, Profile: profile, Env: spec.Env,
		CreatedAt: now().UTC().Truncate(time.Millisecond),
		Mounts: []sandbox.ResolvedMount{
			{Target: sandbox.MemoryTarget, Access: sandbox.ReadWrite},
			{Target: sandbox.OutputsTarget, Access: sandbox.ReadWrite},
		},
	}
	taken := map[string]bool{b.cfg.Workdir: true, "/tmp": true, sandbox.MemoryTarget: true, sandbox.OutputsTarget: true}
	for i, m := range spec.Mounts {
		t, err := sandbox.NormalizeTarget(m.Target)
		if err != nil {
			return nil, newError(op, id, sandbox.ErrInvalidRequest, err)
		}
		if m.Access != sandbox.ReadOnly && m.Access != sandbox.ReadWrite {
			return nil, invalid(op, id, "mount %s: access %q is neither read_only nor read_write", t, m.Access)
		}
		if taken[t] {
			return nil, invalid(op, id, "mount target %s is already used by the session", t)
		}
		taken[t] = true
		src, err := b.volumeSource(m)
		if err != nil {
			return nil, newError(op, id, sandbox.ErrUnsupported, err)
		}
		name := fmt.Sprintf("mount-%d", i)
		p.volumes = append(p.volumes, corev1.Volume{Name: name, VolumeSource: src})
		p.mounts = append(p.mounts, corev1.VolumeMount{Name: name, MountPath: t, ReadOnly: m.Access == sandbox.ReadOnly})
		p.session.Mounts = append(p.session.Mounts, sandbox.ResolvedMount{Source: m.Source, Target: t, Access: m.Access})
	}
	return p, nil
}

// volumeSource finds the volume behind a caller mount: a fresh emptyDir
// for an empty source, else Config.Volumes, else Config.VolumeFor.
func (b *Backend) volumeSource(m sandbox.Mount) (corev1.VolumeSource, error) {
	if m.Source == "" {
		return corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}, nil
	}
	if v, ok := b.cfg.Volumes[m.Source]; ok {
		return *v.DeepCopy(), nil
	}
	if b.cfg.VolumeFor != nil {
		return b.cfg.VolumeFor(m)
	}
	return corev1.VolumeSource{}, &sandbox.UnsupportedError{Backend: b.Name(), Operation: "mount " + m.Source,
		Reason: "no volume is configured for this source (Config.Volumes or Config.VolumeFor)"}
}

// checkLimits refuses, under OSHardened, the limits a pod cannot apply,
// and fills the defaults.
func (b *Backend) checkLimits(op string, id sandbox.SessionID, l sandbox.Limits, profile sandbox.Profile) (sandbox.Limits, error) {
	if l.WallTime < 0 || l.IdleTimeout < 0 || l.CPUTime < 0 || l.CPUCount < 0 || l.MaxOutputBytes < 0 {
		return l, invalid(op, id, "limits must not be negative")
	}
	if l.IdleTimeout > 0 && b.cfg.Mode != ModeAgentSandbox {
		return l, unsupported(op, id, "idle suspension", "a bare pod cannot be stopped and kept; use ModeAgentSandbox")
	}
	if profile == sandbox.OSHardened {
		ls := b.limitSupport()
		for _, c := range []struct {
			set  bool
			what string
			m    mechanism
		}{
			{l.MaxProcesses > 0, "process limit", ls.MaxProcesses},
			{l.MaxFileSizeMB > 0, "file size limit", ls.MaxFileSize},
		} {
			if c.set && !c.m.Enforced {
				return l, unsupported(op, id, c.what, c.m.Reason)
			}
		}
	}
	if l.WallTime == 0 {
		l.WallTime = sandbox.DefaultWallTime
	}
	if l.MaxOutputBytes == 0 {
		l.MaxOutputBytes = sandbox.DefaultMaxOutputBytes
	}
	return l, nil
}

// normalizedPolicy spells out the empty mode, as the root package does.
func normalizedPolicy(p sandbox.NetworkPolicy) sandbox.NetworkPolicy {
	if p.Mode == "" {
		p.Mode = sandbox.NetworkLimited
	}
	return p
}

// checkNetwork refuses, under OSHardened, a policy the cluster does not
// enforce, and, under every profile, allow-list entries a NetworkPolicy
// cannot express (host names: only addresses and CIDRs can be matched).
func (b *Backend) checkNetwork(op string, id sandbox.SessionID, p sandbox.NetworkPolicy, profile sandbox.Profile) error {
	if p.Mode == sandbox.NetworkUnrestricted {
		return nil
	}
	if _, err := allowedBlocks(p.AllowedHosts); err != nil {
		return newError(op, id, sandbox.ErrUnsupported, &sandbox.UnsupportedError{Backend: b.Name(), Operation: "network allow-list", Reason: err.Error()})
	}
	if profile != sandbox.OSHardened {
		return nil
	}
	e := b.enforcement()
	m, what := e.NetworkDenyAll, "deny-all network"
	if len(p.AllowedHosts) > 0 {
		m, what = e.NetworkAllowList, "network allow-list"
	}
	if !m.Enforced {
		return unsupported(op, id, what, m.Reason+" (Profile Unrestricted creates the NetworkPolicy anyway)")
	}
	return nil
}

// now is time.Now; golden-file tests fix it.
var now = time.Now
