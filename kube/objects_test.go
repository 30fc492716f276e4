package kube

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The secure defaults, as the objects Provision stores: any change to
// them shows up as a golden-file diff to review.
func TestProvisionPodGolden(t *testing.T) {
	fixedNow(t)
	c := newFakeCluster(t)
	b := c.backend(t, Config{NetworkPolicyEnforced: true, Namespace: "agents"})
	s := provision(t, b, sandbox.Spec{SessionID: "Golden_Session-1", Labels: map[string]string{"task": "t1"}})

	pod, err := c.client.CoreV1().Pods("agents").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{} // the fake kubelet's, not the backend's
	golden(t, "pod.yaml", pod)
	np, err := c.client.NetworkingV1().NetworkPolicies("agents").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "networkpolicy-denyall.yaml", np)

	// The properties the golden file holds, spelled out.
	ctr := pod.Spec.Containers[0]
	sc := ctr.SecurityContext
	checks := map[string]bool{
		"runAsNonRoot":                   *pod.Spec.SecurityContext.RunAsNonRoot && *sc.RunAsNonRoot,
		"no privilege escalation":        !*sc.AllowPrivilegeEscalation,
		"capabilities drop ALL":          len(sc.Capabilities.Drop) == 1 && sc.Capabilities.Drop[0] == "ALL",
		"RuntimeDefault seccomp":         sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"read-only root filesystem":      *sc.ReadOnlyRootFilesystem,
		"no service account token":       !*pod.Spec.AutomountServiceAccountToken,
		"no service links":               !*pod.Spec.EnableServiceLinks,
		"session label":                  pod.Labels[LabelSession] == sessionLabel(s.ID),
		"egress and ingress both denied": len(np.Spec.PolicyTypes) == 2 && len(np.Spec.Egress) == 0 && len(np.Spec.Ingress) == 0,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("secure default missing: %s", what)
		}
	}
	mounted := map[string]bool{}
	for _, m := range ctr.VolumeMounts {
		mounted[m.MountPath] = !m.ReadOnly
	}
	for _, p := range []string{"/workspace", "/tmp", sandbox.OutputsTarget, sandbox.MemoryTarget} {
		if !mounted[p] {
			t.Errorf("no writable emptyDir at %s: %v", p, mounted)
		}
	}
}

func TestProvisionNetworkPolicies(t *testing.T) {
	fixedNow(t)
	for _, tc := range []struct {
		golden string
		policy sandbox.NetworkPolicy
	}{
		{"networkpolicy-unrestricted.yaml", sandbox.AllowAll()},
		{"networkpolicy-allowlist.yaml", sandbox.AllowHosts("192.0.2.10", "2001:db8::7")},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			c := newFakeCluster(t)
			b := c.backend(t, Config{NetworkPolicyEnforced: true})
			s := provision(t, b, sandbox.Spec{SessionID: "net", NetworkPolicy: tc.policy})
			np, err := c.client.NetworkingV1().NetworkPolicies("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, np)
		})
	}
}

func TestProvisionRefusesWhatTheClusterCannotEnforce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		enforced bool
		spec     sandbox.Spec
		kind     error
		mention  string
	}{
		{"deny-all without an enforcing CNI", false, sandbox.Spec{}, sandbox.ErrUnsupported, "NetworkPolicyEnforced"},
		{"allow-list without an enforcing CNI", false, sandbox.Spec{NetworkPolicy: sandbox.AllowHosts("192.0.2.1")}, sandbox.ErrUnsupported, "NetworkPolicyEnforced"},
		{"host names in an allow-list", true, sandbox.Spec{NetworkPolicy: sandbox.AllowHosts("api.example.com")}, sandbox.ErrUnsupported, "host name"},
		{"process limit", true, sandbox.Spec{Limits: sandbox.Limits{MaxProcesses: 10}}, sandbox.ErrUnsupported, "podPidsLimit"},
		{"file size limit", true, sandbox.Spec{Limits: sandbox.Limits{MaxFileSizeMB: 1}}, sandbox.ErrUnsupported, "ulimit -f"},
		{"idle suspension of a bare pod", true, sandbox.Spec{Limits: sandbox.Limits{IdleTimeout: 1e9}}, sandbox.ErrUnsupported, "ModeAgentSandbox"},
		{"unix sockets", true, sandbox.Spec{UnixSockets: []string{"/run/x.sock"}}, sandbox.ErrUnsupported, "unix sockets"},
		{"unknown mount source", true, sandbox.Spec{Mounts: []sandbox.Mount{{Source: "/data", Target: "/mnt/data", Access: sandbox.ReadOnly}}}, sandbox.ErrUnsupported, "Config.Volumes"},
		{"mount target with ..", true, sandbox.Spec{Mounts: []sandbox.Mount{{Target: "/mnt/../etc", Access: sandbox.ReadOnly}}}, sandbox.ErrInvalidRequest, ".."},
		{"mount over the workdir", true, sandbox.Spec{Mounts: []sandbox.Mount{{Target: "/workspace", Access: sandbox.ReadOnly}}}, sandbox.ErrInvalidRequest, "already used"},
		{"blank session id", true, sandbox.Spec{SessionID: " "}, sandbox.ErrInvalidRequest, "session id"},
		{"bad network mode", true, sandbox.Spec{NetworkPolicy: sandbox.NetworkPolicy{Mode: "open"}}, sandbox.ErrNetworkPolicy, "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t)
			b := c.backend(t, Config{NetworkPolicyEnforced: tc.enforced})
			_, err := b.Provision(t.Context(), tc.spec)
			var se *sandbox.Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("Provision answered %v, want %v mentioning %q", err, tc.kind, tc.mention)
			}
			// A refused Provision creates nothing.
			pods, _ := c.client.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
			nps, _ := c.client.NetworkingV1().NetworkPolicies("default").List(t.Context(), metav1.ListOptions{})
			if len(pods.Items)+len(nps.Items) != 0 {
				t.Errorf("a refused Provision left %d pods and %d network policies", len(pods.Items), len(nps.Items))
			}
		})
	}
}

// Under Unrestricted the policy the cluster may not enforce is still
// created, as a best effort the caller chose.
func TestUnrestrictedProfileCreatesThePolicyAnyway(t *testing.T) {
	c := newFakeCluster(t)
	b := c.backend(t, Config{})
	s := provision(t, b, sandbox.Spec{Profile: sandbox.Unrestricted})
	np, err := c.client.NetworkingV1().NetworkPolicies("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.Egress) != 0 {
		t.Errorf("deny-all policy has egress rules: %v", np.Spec.Egress)
	}
	if caps := b.Capabilities(); caps.NetworkPolicy || caps.Enforcement.NetworkDenyAll.Enforced {
		t.Errorf("Capabilities claim network enforcement the configuration does not: %+v", caps.Enforcement.NetworkDenyAll)
	}
}

func TestLimitsBecomeResourcesAndUlimits(t *testing.T) {
	c := newFakeCluster(t)
	b := c.backend(t, Config{NetworkPolicyEnforced: true})
	s := provision(t, b, sandbox.Spec{Limits: sandbox.Limits{MemoryMB: 256, CPUCount: 2, CPUTime: 3e9, MaxOpenFiles: 64}})
	pod, err := c.client.CoreV1().Pods("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := pod.Spec.Containers[0].Resources
	if got := res.Limits.Memory().String(); got != "256Mi" {
		t.Errorf("memory limit %s, want 256Mi", got)
	}
	if got := res.Limits.Cpu().String(); got != "2" {
		t.Errorf("cpu limit %s, want 2", got)
	}
	if !res.Requests.Memory().Equal(*res.Limits.Memory()) || !res.Requests.Cpu().Equal(*res.Limits.Cpu()) {
		t.Errorf("requests %v differ from limits %v", res.Requests, res.Limits)
	}
	sc := script(&sandbox.ExecRequest{Command: "true"}, "id", 5e9, s.Limits)
	for _, want := range []string{"ulimit -t 3 ", "ulimit -n 64 "} {
		if !strings.Contains(sc, want) {
			t.Errorf("script lacks %q:\n%s", want, sc)
		}
	}
}

func TestCallerMountsBecomeConfiguredVolumes(t *testing.T) {
	c := newFakeCluster(t)
	b := c.backend(t, Config{NetworkPolicyEnforced: true, Volumes: map[string]corev1.VolumeSource{
		"datasets": {PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "datasets"}},
	}})
	s := provision(t, b, sandbox.Spec{Mounts: []sandbox.Mount{
		{Source: "datasets", Target: "/mnt/data/", Access: sandbox.ReadOnly},
		{Target: "/mnt/scratch", Access: sandbox.ReadWrite},
	}})
	pod, err := c.client.CoreV1().Pods("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	byPath := map[string]corev1.VolumeMount{}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		byPath[m.MountPath] = m
	}
	data, scratch := byPath["/mnt/data"], byPath["/mnt/scratch"]
	if v := vols[data.Name]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "datasets" || !data.ReadOnly {
		t.Errorf("/mnt/data: mount %+v volume %+v, want the read-only claim datasets", data, v)
	}
	if v := vols[scratch.Name]; v.EmptyDir == nil || scratch.ReadOnly {
		t.Errorf("/mnt/scratch: mount %+v volume %+v, want a writable emptyDir", scratch, v)
	}
	targets := map[string]sandbox.Access{}
	for _, m := range s.Mounts {
		targets[m.Target] = m.Access
	}
	if targets["/mnt/data"] != sandbox.ReadOnly || targets["/mnt/scratch"] != sandbox.ReadWrite || targets[sandbox.MemoryTarget] != sandbox.ReadWrite {
		t.Errorf("session mounts %v", s.Mounts)
	}
	if _, err := b.AttachFilesystem(t.Context(), s.ID, sandbox.Mount{Target: "/mnt/late", Access: sandbox.ReadOnly}); !errors.Is(err, sandbox.ErrUnsupported) || !strings.Contains(err.Error(), "Spec.Mounts") {
		t.Errorf("AttachFilesystem answered %v, want ErrUnsupported pointing at Spec.Mounts", err)
	}
}

func TestConfigOverridesAreReportedInCapabilities(t *testing.T) {
	c := newFakeCluster(t)
	def := c.backend(t, Config{NetworkPolicyEnforced: true}).Capabilities().Enforcement
	for what, m := range map[string]mechanism{"privileges": def.Privileges, "syscalls": def.Syscalls, "filesystem": def.Filesystem, "deny-all": def.NetworkDenyAll, "view": def.View} {
		if !m.Enforced {
			t.Errorf("default %s not enforced: %s", what, m.Reason)
		}
	}
	loose := c.backend(t, Config{SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)}, PodSecurityContext: &corev1.PodSecurityContext{}}).Capabilities().Enforcement
	if loose.Privileges.Enforced || !strings.Contains(loose.Privileges.Reason, "privileged") {
		t.Errorf("a privileged override reported as %v", loose.Privileges)
	}
	if loose.Syscalls.Enforced {
		t.Errorf("no seccomp profile reported as %v", loose.Syscalls)
	}
	if loose.OS != "kubernetes" {
		t.Errorf("OS %q", loose.OS)
	}
}

func TestObjectNames(t *testing.T) {
	a, b := objectName("Session_A"), objectName("session-a")
	if a == b {
		t.Errorf("ids differing in case and punctuation share the name %s", a)
	}
	long := objectName(sandbox.SessionID(strings.Repeat("x", 128)))
	if len(long) > 63 || !validLabelValue(sessionLabel("x")) {
		t.Errorf("name %q (%d bytes) too long for a pod, or label invalid", long, len(long))
	}
}
