package kube

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
	"k8s.io/client-go/tools/clientcmd"
)

// TestManualRealCluster runs against a real cluster named by a kubeconfig;
// it is never run by CI (no cluster there) and skips without one:
//
//	SANDBOX_KUBE_KUBECONFIG=~/.kube/config \
//	SANDBOX_KUBE_IMAGE=busybox:1.36 \
//	SANDBOX_KUBE_NAMESPACE=sandbox-test \
//	SANDBOX_KUBE_NETWORK_POLICY_ENFORCED=true \
//	SANDBOX_KUBE_RUNTIME_CLASS=gvisor \
//	go test -run TestManualRealCluster -v ./
//
// It runs one command and checks its output and a file it wrote, then the
// conformance kit with no hooks into the cluster's nodes, so the cases that
// plant files or count processes are not applicable and the rest are
// judged by the backend's answers.
func TestManualRealCluster(t *testing.T) {
	path := os.Getenv("SANDBOX_KUBE_KUBECONFIG")
	if path == "" {
		t.Skip("SANDBOX_KUBE_KUBECONFIG is unset: this test needs a real cluster (see its doc comment)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	image := os.Getenv("SANDBOX_KUBE_IMAGE")
	if image == "" {
		image = "busybox:1.36"
	}
	b, err := New(Config{RESTConfig: cfg, Image: image, Namespace: os.Getenv("SANDBOX_KUBE_NAMESPACE"),
		RuntimeClassName:      os.Getenv("SANDBOX_KUBE_RUNTIME_CLASS"),
		NetworkPolicyEnforced: os.Getenv("SANDBOX_KUBE_NETWORK_POLICY_ENFORCED") == "true"})
	if err != nil {
		t.Fatal(err)
	}
	spec := sandbox.Spec{}
	if !b.Capabilities().Enforcement.NetworkDenyAll.Enforced {
		spec.NetworkPolicy = sandbox.AllowAll()
	}
	s := sandboxtest.NewSession(t, b, spec)
	r, err := b.Exec(t.Context(), s.ID, sandbox.ExecRequest{Command: "sh", Timeout: time.Minute,
		Args: []string{"-c", `printf '%s' "$1" > "$SANDBOX_OUTPUTS_DIR/out"; cat "$SANDBOX_OUTPUTS_DIR/out"; id -u`, "sh", "it's $(here)"}})
	if err != nil {
		t.Fatal(err)
	}
	uid, ok := strings.CutPrefix(string(r.Stdout), "it's $(here)")
	if uid = strings.TrimSpace(uid); !ok || uid == "" || uid == "0" {
		t.Errorf("stdout %q (stderr %q): want the argument back, and not uid 0", r.Stdout, r.Stderr)
	}
	sandboxtest.Run(t, b, sandboxtest.Options{Remote: &sandboxtest.Remote{}})
}
