package kube

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// Exec through kube-apiserver itself, over each protocol: the API server
// translates WebSocket to SPDY towards the node, or proxies SPDY.
func TestRealClusterExecOverBothProtocols(t *testing.T) {
	for _, p := range []Protocol{ProtocolWebSocket, ProtocolSPDY} {
		t.Run(string(p), func(t *testing.T) {
			nc := newNodeCluster(t, true, func(c *Config) { c.ExecProtocol = p })
			s := provision(t, nc.b, sandbox.Spec{NetworkPolicy: sandbox.DenyAll()})
			defer nc.b.Terminate(t.Context(), s.ID)
			args := []string{"it's", "$(echo pwned)", "a\nb", "x; echo pwned", ""}
			r, err := nc.b.Exec(t.Context(), s.ID, sandbox.ExecRequest{Command: "sh",
				Args:  append([]string{"-c", `cat; printf '[%s]' "$@"; echo oops >&2; exit 5`, "sh"}, args...),
				Stdin: []byte("from stdin|")})
			if err != nil {
				t.Fatal(err)
			}
			want := "from stdin|[it's][$(echo pwned)][a\nb][x; echo pwned][]"
			if string(r.Stdout) != want || string(r.Stderr) != "oops\n" || r.ExitCode != 5 {
				t.Errorf("got stdout %q stderr %q exit %d, want stdout %q", r.Stdout, r.Stderr, r.ExitCode, want)
			}
			if n := nc.node.Kubelet.Execs(); n != 1 {
				t.Errorf("the node ran %d commands for one Exec", n)
			}
		})
	}
}

// The Sandbox object against the agent-sandbox CRD's schema in a real API
// server: accepted, and nothing of the pod template pruned (a field the
// schema does not know would be dropped silently). No controller runs, so
// no pod appears; Terminate still removes the Sandbox.
func TestRealClusterSandboxObject(t *testing.T) {
	if os.Getenv("AGENT_SANDBOX_CRDS") == "" {
		t.Skip("AGENT_SANDBOX_CRDS is unset: set it to the k8s/crds directory of sigs.k8s.io/agent-sandbox@v0.1.1 (bash .ci/kube.sh does) to check the Sandbox object against the CRD")
	}
	cfg, _, ns := realCluster(t)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}
	b, err := New(Config{RESTConfig: cfg, Dynamic: dyn, Namespace: ns, Image: "local-sandbox", Mode: ModeAgentSandbox,
		NetworkPolicyEnforced: true, RuntimeClassName: "gvisor", SandboxVolumeClaim: claim})
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.plan(sandbox.Spec{Limits: sandbox.Limits{MemoryMB: 512, CPUCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sent := b.sandboxObject(p)
	if err := b.create(t.Context(), p); err != nil {
		t.Fatalf("the API server refused the Sandbox: %v", err)
	}
	got, err := dyn.Resource(SandboxGVR).Namespace(ns).Get(t.Context(), p.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"podTemplate", "volumeClaimTemplates"} {
		want, _, _ := unstructured.NestedFieldNoCopy(sent.Object, "spec", field)
		have, _, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", field)
		if want == nil || asJSON(t, want) != asJSON(t, have) {
			t.Errorf("the stored %s differs from the one sent (pruned by the CRD schema?):\nsent %v\ngot  %v", field, want, have)
		}
	}
	if err := b.Terminate(t.Context(), p.session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(SandboxGVR).Namespace(ns).Get(t.Context(), p.name, metav1.GetOptions{}); err == nil {
		t.Error("the Sandbox survived Terminate")
	}
	if err := b.Terminate(t.Context(), p.session.ID); !errors.Is(err, sandbox.ErrSessionNotFound) {
		t.Errorf("second Terminate: %v", err)
	}
}

// asJSON renders a map with sorted keys, so that two maps compare by
// content whatever number types they hold.
func asJSON(t *testing.T, m any) string {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
