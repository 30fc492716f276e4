package kube

import (
	"context"
	"strings"
	"testing"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/kube/internal/fakenode"
	"github.com/go-sandbox/sandbox/sandboxtest"
	corev1 "k8s.io/api/core/v1"
)

// nodeCluster is a real API server with a fake node whose pods are local
// sandbox sessions, and a backend on it.
type nodeCluster struct {
	b    *Backend
	node *fakenode.Node
	ns   string
}

func newNodeCluster(t *testing.T, enforceNetworkPolicies bool, mutate func(*Config)) *nodeCluster {
	t.Helper()
	cfg, client, ns := realCluster(t)
	local, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: sandboxtest.RootDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	node, err := fakenode.StartNode(ctx, client, local, ns+"-node", enforceNetworkPolicies)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); node.Wait() })
	c := Config{
		RESTConfig: cfg, Namespace: ns, Owner: "conformance",
		// The fake node runs no image: any name does.
		Image:                 "local-sandbox",
		NetworkPolicyEnforced: enforceNetworkPolicies,
		// The kit's read-only mount sources are node directories.
		VolumeFor: func(m sandbox.Mount) (corev1.VolumeSource, error) {
			return corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: m.Source}}, nil
		},
	}
	if mutate != nil {
		mutate(&c)
	}
	b, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return &nodeCluster{b: b, node: node, ns: ns}
}

// The conformance kit end to end: kube-apiserver stores the objects, the
// backend streams exec through it, and the fake node runs the commands
// in local sandbox sessions. The cluster enforces no NetworkPolicy, so
// the backend refuses deny-all (fail closed) and the kit measures the
// network case as not measured, with that reason.
func TestConformanceOnARealControlPlane(t *testing.T) {
	nc := newNodeCluster(t, false, nil)
	rep := sandboxtest.Run(t, nc.b, sandboxtest.Options{Remote: nc.node.Remote()})
	checkReport(t, rep, map[string]sandboxtest.Verdict{
		"network_denyall_refused":       sandboxtest.NotMeasured,
		"network_unrestricted_admitted": sandboxtest.Conforms,
		"workspace_write_admitted":      sandboxtest.Conforms,
		"outside_read_refused":          sandboxtest.Conforms,
		"ro_mount_write_refused":        sandboxtest.Conforms,
		"timeout_kills_and_reports":     sandboxtest.Conforms,
		"terminate_leaves_nothing":      sandboxtest.Conforms,
		// A pod is a view of its own: commands use its paths.
		"view_mount_target_read_admitted":         sandboxtest.Conforms,
		"view_mount_source_read_refused":          sandboxtest.Conforms,
		"view_outputs_write_admitted":             sandboxtest.Conforms,
		"view_other_session_outputs_read_refused": sandboxtest.Conforms,
	})
	if r, _ := rep.Result("network_denyall_refused"); !strings.Contains(r.Detail, "NetworkPolicyEnforced") {
		t.Errorf("network_denyall_refused is not measured for another reason than the configuration: %s", r.Detail)
	}
}

// With a node that enforces NetworkPolicy egress as the session's
// policy says, deny-all is judged by its effect: the loopback server sees
// no connection, which checks the NetworkPolicy the backend wrote.
func TestConformanceWithAnEnforcingNetwork(t *testing.T) {
	nc := newNodeCluster(t, true, nil)
	rep := sandboxtest.Run(t, nc.b, sandboxtest.Options{Remote: nc.node.Remote()})
	checkReport(t, rep, map[string]sandboxtest.Verdict{
		"network_denyall_refused":       sandboxtest.Conforms,
		"network_unrestricted_admitted": sandboxtest.Conforms,
	})
}

// checkReport fails on any escaped or over-refused case, on a case not
// measured or not applicable without a reason, and on the expected
// verdicts.
func checkReport(t *testing.T, rep sandboxtest.Report, want map[string]sandboxtest.Verdict) {
	t.Helper()
	if len(rep.Results) == 0 {
		t.Fatal("the kit ran no case")
	}
	for _, r := range rep.Results {
		if r.Verdict.Failed() {
			t.Errorf("%s: %s: %s", r.Case, r.Verdict, r.Detail)
		}
		if (r.Verdict == sandboxtest.NotMeasured || r.Verdict == sandboxtest.NotApplicable) && strings.TrimSpace(r.Detail) == "" {
			t.Errorf("%s: %s without a reason", r.Case, r.Verdict)
		}
	}
	for name, v := range want {
		if r, ok := rep.Result(name); !ok || r.Verdict != v {
			t.Errorf("%s: %s (%s), want %s", name, r.Verdict, r.Detail, v)
		}
	}
}

// A command in a pod sees the pod's paths, as it would in a local session
// with a view of its own: it starts in the workdir, and HOME, TMPDIR and
// the canonical directories' variables name guest paths it can write.
func TestPodPathsAreGuestPaths(t *testing.T) {
	nc := newNodeCluster(t, false, nil)
	s := provision(t, nc.b, sandbox.Spec{NetworkPolicy: sandbox.AllowAll()})
	defer nc.b.Terminate(t.Context(), s.ID)
	r, err := nc.b.Exec(t.Context(), s.ID, sandbox.ExecRequest{Command: "sh", Args: []string{"-c",
		`echo "$(pwd) $HOME $TMPDIR $SANDBOX_OUTPUTS_DIR"; echo x > "$SANDBOX_OUTPUTS_DIR/f" && echo y > "$TMPDIR/f" && cat "$SANDBOX_OUTPUTS_DIR/f" "$TMPDIR/f"`}})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultWorkdir + " " + DefaultWorkdir + " /tmp " + sandbox.OutputsTarget + "\nx\ny\n"
	if string(r.Stdout) != want || r.ExitCode != 0 {
		t.Errorf("stdout %q (stderr %q, exit %d), want %q", r.Stdout, r.Stderr, r.ExitCode, want)
	}
}
