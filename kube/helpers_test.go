package kube

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow makes the creation time in the session record stable.
func fixedNow(t *testing.T) {
	t.Helper()
	old := now
	now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	t.Cleanup(func() { now = old })
}

// runningStatus is what a kubelet reports for a pod whose container runs.
func runningStatus() corev1.PodStatus {
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}},
	}
}

// fakeCluster is a fake clientset whose pods run as soon as they are
// created (no kubelet), and a fake dynamic client whose Sandboxes get
// their pod at once (no controller), made from their pod template.
type fakeCluster struct {
	client *fake.Clientset
	dyn    *dynamicfake.FakeDynamicClient
}

func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	c := &fakeCluster{client: fake.NewClientset()}
	c.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		pod.Status = runningStatus()
		return false, nil, nil
	})
	scheme := runtime.NewScheme()
	c.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{SandboxGVR: "SandboxList"})
	c.dyn.PrependReactor("create", "sandboxes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sb := a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured)
		c.startSandboxPod(t, sb)
		return false, nil, nil
	})
	c.dyn.PrependReactor("patch", "sandboxes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		// Scaling: make or remove the pod as the controller would.
		pa := a.(k8stesting.PatchAction)
		ctx := context.Background()
		pods := c.client.CoreV1().Pods(pa.GetNamespace())
		switch string(pa.GetPatch()) {
		case `{"spec":{"replicas":0}}`:
			pods.Delete(ctx, pa.GetName(), metav1.DeleteOptions{})
			return false, nil, nil
		case `{"spec":{"replicas":1}}`:
		default:
			return false, nil, nil // not a scaling
		}
		if obj, err := c.dyn.Tracker().Get(SandboxGVR, pa.GetNamespace(), pa.GetName()); err == nil {
			// The tracker, not the client: the client's lock is held
			// while reactors run.
			c.startSandboxPod(t, obj.(*unstructured.Unstructured))
		}
		return false, nil, nil
	})
	return c
}

// startSandboxPod does what the agent-sandbox controller does: a pod from
// the Sandbox's template, named after it.
func (c *fakeCluster) startSandboxPod(t *testing.T, sb *unstructured.Unstructured) {
	tmplMap, _, _ := unstructured.NestedMap(sb.Object, "spec", "podTemplate")
	var tmpl corev1.PodTemplateSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmplMap, &tmpl); err != nil {
		t.Errorf("the Sandbox's pod template does not convert: %v", err)
		return
	}
	pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
	pod.Name, pod.Namespace = sb.GetName(), sb.GetNamespace()
	if _, err := c.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Errorf("creating the Sandbox's pod: %v", err)
	}
}

// backend builds a backend on the fake cluster with cfg's other fields.
func (c *fakeCluster) backend(t *testing.T, cfg Config) *Backend {
	t.Helper()
	cfg.Clientset, cfg.Dynamic = c.client, c.dyn
	if cfg.Image == "" {
		cfg.Image = "registry.example/sandbox:1"
	}
	if cfg.Owner == "" {
		cfg.Owner = "test-host"
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares obj, as YAML, with testdata/name (or rewrites it).
func golden(t *testing.T, name string, obj any) {
	t.Helper()
	if o, ok := obj.(metav1.Object); ok {
		// The fake clientset's bookkeeping, with its clock: not ours.
		o.SetManagedFields(nil)
		o.SetResourceVersion("")
	}
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func provision(t *testing.T, b *Backend, spec sandbox.Spec) *sandbox.Session {
	t.Helper()
	s, err := b.Provision(t.Context(), spec)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return s
}
