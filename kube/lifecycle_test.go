package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestTerminateDeletesEverythingOnce(t *testing.T) {
	c := newFakeCluster(t)
	b := c.backend(t, Config{NetworkPolicyEnforced: true})
	s := provision(t, b, sandbox.Spec{})
	other := provision(t, b, sandbox.Spec{})
	if err := b.Terminate(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	pods, _ := c.client.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
	nps, _ := c.client.NetworkingV1().NetworkPolicies("default").List(t.Context(), metav1.ListOptions{})
	if len(pods.Items) != 1 || pods.Items[0].Name != objectName(other.ID) || len(nps.Items) != 1 || nps.Items[0].Name != objectName(other.ID) {
		t.Errorf("after Terminate: %d pods, %d policies; only the other session's should remain", len(pods.Items), len(nps.Items))
	}
	if err := b.Terminate(t.Context(), s.ID); !errors.Is(err, sandbox.ErrSessionNotFound) {
		t.Errorf("second Terminate: %v, want ErrSessionNotFound", err)
	}
	for name, err := range map[string]error{
		"snapshot": func() error { _, err := b.Snapshot(t.Context(), s.ID); return err }(),
		"exec":     func() error { _, err := b.Exec(t.Context(), s.ID, sandbox.ExecRequest{Command: "true"}); return err }(),
		"network":  b.ApplyNetworkPolicy(t.Context(), s.ID, sandbox.AllowAll()),
	} {
		var se *sandbox.Error
		if !errors.Is(err, sandbox.ErrSessionNotFound) || !errors.As(err, &se) || se.Session != s.ID {
			t.Errorf("%s after Terminate: %v, want a *sandbox.Error with ErrSessionNotFound", name, err)
		}
	}
}

// A new Backend (a restarted host process) finds the sessions of the old
// one by label, and its janitor removes those it no longer wants.
func TestSessionsSurviveARestartAndTheJanitorSweeps(t *testing.T) {
	c := newFakeCluster(t)
	first := c.backend(t, Config{NetworkPolicyEnforced: true})
	kept := provision(t, first, sandbox.Spec{Labels: map[string]string{"keep": "yes"}})
	dropped := provision(t, first, sandbox.Spec{Labels: map[string]string{"keep": "no"}})
	foreign := provision(t, c.backend(t, Config{NetworkPolicyEnforced: true, Owner: "other-host"}), sandbox.Spec{})

	restarted := c.backend(t, Config{NetworkPolicyEnforced: true})
	list, err := restarted.Sessions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := map[sandbox.SessionID]sandbox.Session{}
	for _, s := range list {
		found[s.ID] = s
	}
	if len(found) != 2 || found[kept.ID].Labels["keep"] != "yes" || found[dropped.ID].State != sandbox.StateRunning {
		t.Fatalf("restarted backend lists %v, want its two running sessions with their labels", list)
	}
	snap, err := restarted.Snapshot(t.Context(), kept.ID)
	if err != nil || snap.Session.ID != kept.ID || snap.Session.Limits.WallTime != sandbox.DefaultWallTime {
		t.Errorf("snapshot after restart: %+v, %v", snap, err)
	}
	// A pod whose policy was removed by hand is still found.
	if err := c.client.NetworkingV1().NetworkPolicies("default").Delete(t.Context(), objectName(kept.ID), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if again, err := restarted.Sessions(t.Context()); err != nil || len(again) != 2 {
		t.Errorf("after the policy's removal Sessions lists %v (%v), want both sessions", again, err)
	}
	removed, err := restarted.Sweep(t.Context(), func(s sandbox.Session) bool { return s.Labels["keep"] == "yes" })
	if err != nil || len(removed) != 1 || removed[0] != dropped.ID {
		t.Fatalf("Sweep removed %v (%v), want only %s", removed, err, dropped.ID)
	}
	if _, err := restarted.Snapshot(t.Context(), dropped.ID); !errors.Is(err, sandbox.ErrSessionNotFound) {
		t.Errorf("swept session still answers: %v", err)
	}
	for _, id := range []sandbox.SessionID{kept.ID, foreign.ID} {
		if _, err := c.client.CoreV1().Pods("default").Get(t.Context(), objectName(id), metav1.GetOptions{}); err != nil {
			t.Errorf("Sweep removed %s, which it had to keep: %v", id, err)
		}
	}
}

func TestApplyNetworkPolicyRewritesTheEgressRules(t *testing.T) {
	c := newFakeCluster(t)
	b := c.backend(t, Config{NetworkPolicyEnforced: true})
	s := provision(t, b, sandbox.Spec{})
	if err := b.ApplyNetworkPolicy(t.Context(), s.ID, sandbox.AllowHosts("203.0.113.9")); err != nil {
		t.Fatal(err)
	}
	np, err := c.client.NetworkingV1().NetworkPolicies("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.Egress) != 1 || len(np.Spec.Egress[0].To) != 1 || np.Spec.Egress[0].To[0].IPBlock.CIDR != "203.0.113.9/32" {
		t.Errorf("egress after ApplyNetworkPolicy: %+v", np.Spec.Egress)
	}
	snap, err := b.Snapshot(t.Context(), s.ID)
	if err != nil || len(snap.Session.NetworkPolicy.AllowedHosts) != 1 {
		t.Errorf("snapshot policy %+v, %v", snap, err)
	}
	if err := b.ApplyNetworkPolicy(t.Context(), s.ID, sandbox.AllowHosts("example.com")); !errors.Is(err, sandbox.ErrUnsupported) {
		t.Errorf("a host name: %v, want ErrUnsupported", err)
	}
}

func TestAgentSandboxMode(t *testing.T) {
	fixedNow(t)
	c := newFakeCluster(t)
	b := c.backend(t, Config{Mode: ModeAgentSandbox, NetworkPolicyEnforced: true, RuntimeClassName: "gvisor"})
	s := provision(t, b, sandbox.Spec{SessionID: "agent-1"})
	sb, err := c.dyn.Resource(SandboxGVR).Namespace("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sandbox.yaml", sb.Object)
	if !b.Capabilities().Resume {
		t.Error("agent-sandbox mode does not report Resume")
	}

	if err := b.Suspend(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	snap, err := b.Snapshot(t.Context(), s.ID)
	if err != nil || snap.Session.State != sandbox.StateSuspended {
		t.Fatalf("after Suspend: %+v, %v", snap, err)
	}
	if _, err := c.client.CoreV1().Pods("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{}); err == nil {
		t.Error("the pod survived Suspend")
	}
	r, err := b.Resume(t.Context(), s.ID)
	if err != nil || r.State != sandbox.StateRunning {
		t.Fatalf("Resume: %+v, %v", r, err)
	}
	if _, err := c.client.CoreV1().Pods("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{}); err != nil {
		t.Errorf("no pod after Resume: %v", err)
	}
	if err := b.Terminate(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.dyn.Resource(SandboxGVR).Namespace("default").Get(t.Context(), objectName(s.ID), metav1.GetOptions{}); err == nil {
		t.Error("the Sandbox survived Terminate")
	}
	if err := b.Terminate(t.Context(), s.ID); !errors.Is(err, sandbox.ErrSessionNotFound) {
		t.Errorf("second Terminate: %v", err)
	}
}

func TestPodModeCannotSuspend(t *testing.T) {
	c := newFakeCluster(t)
	b := c.backend(t, Config{NetworkPolicyEnforced: true})
	s := provision(t, b, sandbox.Spec{})
	if err := b.Suspend(t.Context(), s.ID); !errors.Is(err, sandbox.ErrUnsupported) {
		t.Errorf("Suspend in pod mode: %v, want ErrUnsupported", err)
	}
	r, err := b.Resume(t.Context(), s.ID)
	if err != nil || r.State != sandbox.StateRunning || r.ID != s.ID {
		t.Errorf("Resume of a running session: %+v, %v", r, err)
	}
}

// A pod that cannot start ends Provision with its reason, and nothing of
// the session is left behind; so does a pod that is not running by the
// context's deadline.
func TestFailedProvisionLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status corev1.PodStatus
		want   string
	}{
		{"image pull", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: containerName,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "no such image"}}}}}, "ErrImagePull: no such image"},
		{"deadline", corev1.PodStatus{Phase: corev1.PodPending}, "deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Status = tc.status
				return false, nil, nil
			})
			b, err := New(Config{Clientset: client, Image: "missing:1", Owner: "t", NetworkPolicyEnforced: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			_, err = b.Provision(ctx, sandbox.Spec{})
			if !errors.Is(err, sandbox.ErrLifecycle) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Provision: %v, want ErrLifecycle saying %q", err, tc.want)
			}
			pods, _ := client.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
			nps, _ := client.NetworkingV1().NetworkPolicies("default").List(t.Context(), metav1.ListOptions{})
			if len(pods.Items)+len(nps.Items) != 0 {
				t.Errorf("a failed Provision left %d pods and %d policies", len(pods.Items), len(nps.Items))
			}
		})
	}
}

// With SandboxVolumeClaim the kept directories are volume claims the
// controller makes, so Suspend keeps them; Terminate deletes the claims.
func TestAgentSandboxVolumeClaims(t *testing.T) {
	c := newFakeCluster(t)
	claim := &corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}
	b := c.backend(t, Config{Mode: ModeAgentSandbox, NetworkPolicyEnforced: true, SandboxVolumeClaim: claim})
	s := provision(t, b, sandbox.Spec{})
	name := objectName(s.ID)
	sb, err := c.dyn.Resource(SandboxGVR).Namespace("default").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	claims, _, _ := unstructured.NestedSlice(sb.Object, "spec", "volumeClaimTemplates")
	var claimNames []string
	for _, cl := range claims {
		n, _, _ := unstructured.NestedString(cl.(map[string]any), "metadata", "name")
		size, _, _ := unstructured.NestedString(cl.(map[string]any), "spec", "resources", "requests", "storage")
		claimNames = append(claimNames, n+"="+size)
	}
	if strings.Join(claimNames, ",") != "workdir=1Gi,outputs=1Gi,memory=1Gi" {
		t.Errorf("volumeClaimTemplates %v", claimNames)
	}
	vols, _, _ := unstructured.NestedSlice(sb.Object, "spec", "podTemplate", "spec", "volumes")
	for _, v := range vols {
		if n := v.(map[string]any)["name"]; n != "tmp" {
			t.Errorf("the pod template still has the volume %v, which a claim replaces", n)
		}
	}
	// What the controller would have made for the claims.
	for _, cn := range b.claimNames(name) {
		if _, err := c.client.CoreV1().PersistentVolumeClaims("default").Create(t.Context(),
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: cn, Namespace: "default"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Terminate(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	left, _ := c.client.CoreV1().PersistentVolumeClaims("default").List(t.Context(), metav1.ListOptions{})
	if len(left.Items) != 0 {
		t.Errorf("Terminate left %d volume claims", len(left.Items))
	}
}

// Idle suspension in agent-sandbox mode: SuspendIdle leaves a session
// alone while a command runs in it, suspends it once idle for its
// IdleTimeout, and the next command wakes it.
func TestAgentSandboxIdleSuspension(t *testing.T) {
	e := newExecEnvWith(t, Config{Mode: ModeAgentSandbox}, sandbox.Limits{IdleTimeout: 300 * time.Millisecond})
	if !e.b.Capabilities().SuspendOnIdle {
		t.Error("agent-sandbox mode does not report SuspendOnIdle")
	}
	running := make(chan *sandbox.ExecResult)
	go func() {
		r, _ := e.b.Exec(context.Background(), e.id, sandbox.ExecRequest{Command: "sh", Args: []string{"-c", "sleep 1; echo slept"}})
		running <- r
	}()
	time.Sleep(700 * time.Millisecond) // past the idle timeout, the command still running
	if got, err := e.b.SuspendIdle(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("SuspendIdle under a running command suspended %v (%v)", got, err)
	}
	if r := <-running; r == nil || string(r.Stdout) != "slept\n" {
		t.Fatalf("the running command: %+v", r)
	}
	if got, err := e.b.SuspendIdle(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("SuspendIdle right after a command suspended %v (%v)", got, err)
	}
	time.Sleep(400 * time.Millisecond)
	if got, err := e.b.SuspendIdle(t.Context()); err != nil || len(got) != 1 || got[0] != e.id {
		t.Fatalf("SuspendIdle of an idle session: %v (%v)", got, err)
	}
	if snap, err := e.b.Snapshot(t.Context(), e.id); err != nil || snap.Session.State != sandbox.StateSuspended {
		t.Fatalf("after SuspendIdle: %+v (%v)", snap, err)
	}
	r := e.exec(t, sandbox.ExecRequest{Command: "echo", Args: []string{"awake"}})
	if string(r.Stdout) != "awake\n" {
		t.Errorf("the command that wakes the session printed %q", r.Stdout)
	}
	if snap, err := e.b.Snapshot(t.Context(), e.id); err != nil || snap.Session.State != sandbox.StateRunning {
		t.Errorf("after the waking command: %+v (%v)", snap, err)
	}
}
