package kube

import (
	"context"
	"fmt"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Provision on a fake clientset (a kubelet would report the pod running;
// here a reactor does), showing the pod a session gets by default.
func ExampleBackend_Provision() {
	client := fake.NewClientset()
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Status = corev1.PodStatus{
			Phase:             corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "sandbox", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
		}
		return false, nil, nil
	})
	b, err := New(Config{Clientset: client, Image: "busybox:1.36", Owner: "example", NetworkPolicyEnforced: true})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	s, err := b.Provision(ctx, sandbox.Spec{SessionID: "demo", Limits: sandbox.Limits{MemoryMB: 256}})
	if err != nil {
		panic(err)
	}
	pod, _ := client.CoreV1().Pods("default").Get(ctx, objectName(s.ID), metav1.GetOptions{})
	c := pod.Spec.Containers[0]
	fmt.Println("pod:", pod.Name)
	fmt.Println("user:", *pod.Spec.SecurityContext.RunAsUser, "non-root:", *c.SecurityContext.RunAsNonRoot)
	fmt.Println("escalation:", *c.SecurityContext.AllowPrivilegeEscalation, "drop:", c.SecurityContext.Capabilities.Drop)
	fmt.Println("read-only root:", *c.SecurityContext.ReadOnlyRootFilesystem, "seccomp:", c.SecurityContext.SeccompProfile.Type)
	fmt.Println("token:", *pod.Spec.AutomountServiceAccountToken, "memory:", c.Resources.Limits.Memory())
	fmt.Println("terminate:", b.Terminate(ctx, s.ID))
	fmt.Println("again:", b.Terminate(ctx, s.ID))
	// Output:
	// pod: sandbox-demo-2a97516c354b6884
	// user: 65532 non-root: true
	// escalation: false drop: [ALL]
	// read-only root: true seccomp: RuntimeDefault
	// token: false memory: 256Mi
	// terminate: <nil>
	// again: sandbox: terminate demo: session not found
}
