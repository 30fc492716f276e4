package kube

import (
	"encoding/json"
	"strconv"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sessionUID is the user and group the default security context runs
// commands as: not root, and not an id with a meaning on common images
// (65532 is the "nonroot" user of distroless images).
const sessionUID = 65532

// DefaultPodSecurityContext is the pod security context used unless
// Config.PodSecurityContext replaces it: a non-root user and group, the
// emptyDirs owned by that group, and the runtime's default seccomp profile.
func DefaultPodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr(true),
		RunAsUser:      ptr(int64(sessionUID)),
		RunAsGroup:     ptr(int64(sessionUID)),
		FSGroup:        ptr(int64(sessionUID)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// DefaultSecurityContext is the container security context used unless
// Config.SecurityContext replaces it: no privilege, no escalation, no
// capability, a read-only root filesystem, the runtime's seccomp profile.
func DefaultSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Privileged:               ptr(false),
		AllowPrivilegeEscalation: ptr(false),
		RunAsNonRoot:             ptr(true),
		ReadOnlyRootFilesystem:   ptr(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func ptr[T any](v T) *T { return &v }

// keepAlive is the container's own process: it waits for SIGTERM and
// exits at once when it comes (a shell that is PID 1 ignores signals it
// does not trap), so that deleting the pod is quick.
const keepAlive = `trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done`

// canonical volumes: the scratch directories every session gets. The
// kept ones become volume claims in ModeAgentSandbox when
// Config.SandboxVolumeClaim is set; /tmp never does.
var scratchVolumes = []struct {
	name, target string
	kept         bool
}{
	{"workdir", "", true}, // Config.Workdir
	{"tmp", "/tmp", false},
	{"outputs", sandbox.OutputsTarget, true},
	{"memory", sandbox.MemoryTarget, true},
}

// claimed reports whether the kept scratch volumes are volume claims.
func (b *Backend) claimed() bool {
	return b.cfg.Mode == ModeAgentSandbox && b.cfg.SandboxVolumeClaim != nil
}

// objectMeta is the metadata every object of the session carries.
func (b *Backend) objectMeta(p *plan) metav1.ObjectMeta {
	labels := map[string]string{}
	for k, v := range b.cfg.Labels {
		labels[k] = v
	}
	labels[LabelManagedBy] = managedBy
	labels[LabelSession] = sessionLabel(p.session.ID)
	labels[LabelOwner] = b.cfg.Owner
	annotations := map[string]string{}
	for k, v := range b.cfg.Annotations {
		annotations[k] = v
	}
	meta := metav1.ObjectMeta{Name: p.name, Namespace: b.cfg.Namespace, Labels: labels, Annotations: annotations}
	setRecord(&meta, p.record())
	return meta
}

// setRecord stores the session's record in AnnotationSession.
func setRecord(meta *metav1.ObjectMeta, rec record) {
	raw, _ := json.Marshal(rec) // plain data: cannot fail
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[AnnotationSession] = string(raw)
}

// podSpec is the pod of a session: in ModePod the Pod itself, in
// ModeAgentSandbox the Sandbox's pod template.
func (b *Backend) podSpec(p *plan) corev1.PodSpec {
	cfg := &b.cfg
	podSC, sc := DefaultPodSecurityContext(), DefaultSecurityContext()
	if cfg.PodSecurityContext != nil {
		podSC = cfg.PodSecurityContext.DeepCopy()
	}
	if cfg.SecurityContext != nil {
		sc = cfg.SecurityContext.DeepCopy()
	}

	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	for _, v := range scratchVolumes {
		target := v.target
		if target == "" {
			target = cfg.Workdir
		}
		mounts = append(mounts, corev1.VolumeMount{Name: v.name, MountPath: target})
		if v.kept && b.claimed() {
			continue // the agent-sandbox controller adds the claim's volume under this name
		}
		ed := &corev1.EmptyDirVolumeSource{}
		if cfg.ScratchSizeLimitMB > 0 {
			ed.SizeLimit = ptr(resource.MustParse(strconv.FormatInt(cfg.ScratchSizeLimitMB, 10) + "Mi"))
		}
		volumes = append(volumes, corev1.Volume{Name: v.name, VolumeSource: corev1.VolumeSource{EmptyDir: ed}})
	}
	volumes = append(volumes, p.volumes...)
	mounts = append(mounts, p.mounts...)

	container := corev1.Container{
		Name:            containerName,
		Image:           cfg.Image,
		ImagePullPolicy: cfg.ImagePullPolicy,
		Command:         []string{cfg.Shell, "-c", keepAlive},
		WorkingDir:      cfg.Workdir,
		Env: []corev1.EnvVar{
			{Name: "HOME", Value: cfg.Workdir},
			{Name: "TMPDIR", Value: "/tmp"},
			{Name: "LANG", Value: "C.UTF-8"},
			{Name: sandbox.MemoryEnv, Value: sandbox.MemoryTarget},
			{Name: sandbox.OutputsEnv, Value: sandbox.OutputsTarget},
		},
		VolumeMounts:    mounts,
		SecurityContext: sc,
		Resources:       resources(p.session.Limits),
	}
	spec := corev1.PodSpec{
		Containers:                    []corev1.Container{container},
		Volumes:                       volumes,
		RestartPolicy:                 corev1.RestartPolicyNever,
		TerminationGracePeriodSeconds: ptr(int64((cfg.TerminationGracePeriod + 999_999_999) / 1_000_000_000)),
		SecurityContext:               podSC,
		AutomountServiceAccountToken:  ptr(cfg.AutomountServiceAccountToken),
		ServiceAccountName:            cfg.ServiceAccountName,
		// Service links put every service's address in the environment:
		// commands get only what the session declares.
		EnableServiceLinks: ptr(false),
		NodeSelector:       cfg.NodeSelector,
		Tolerations:        cfg.Tolerations,
	}
	if cfg.RuntimeClassName != "" {
		spec.RuntimeClassName = ptr(cfg.RuntimeClassName)
	}
	return spec
}

// resources turns the memory and CPU limits into requests equal to limits,
// so that the pod is scheduled where they fit and is never overcommitted.
func resources(l sandbox.Limits) corev1.ResourceRequirements {
	list := corev1.ResourceList{}
	if l.MemoryMB > 0 {
		list[corev1.ResourceMemory] = resource.MustParse(strconv.FormatUint(l.MemoryMB, 10) + "Mi")
	}
	if l.CPUCount > 0 {
		list[corev1.ResourceCPU] = resource.MustParse(strconv.Itoa(l.CPUCount))
	}
	if len(list) == 0 {
		return corev1.ResourceRequirements{}
	}
	return corev1.ResourceRequirements{Requests: list, Limits: list.DeepCopy()}
}

// pod is the Pod of a session in ModePod.
func (b *Backend) pod(p *plan) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: b.objectMeta(p),
		Spec:       b.podSpec(p),
	}
}
