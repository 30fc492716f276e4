package kube

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// controlPlane is one kube-apiserver and etcd (envtest) shared by the
// tests of this package that need a real API server; TestMain stops it.
var controlPlane struct {
	once   sync.Once
	env    *envtest.Environment
	cfg    *rest.Config
	client kubernetes.Interface
	err    error
	ns     atomic.Int64
}

// realCluster returns the shared control plane and a fresh namespace, or
// skips when KUBEBUILDER_ASSETS is unset.
func realCluster(t *testing.T) (*rest.Config, kubernetes.Interface, string) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is unset: set it to a directory holding kube-apiserver and etcd (bash .ci/kube.sh builds and caches them) to run the real-control-plane tests")
	}
	cp := &controlPlane
	cp.once.Do(func() {
		env := &envtest.Environment{}
		if crds := os.Getenv("AGENT_SANDBOX_CRDS"); crds != "" {
			env.CRDDirectoryPaths = []string{crds}
			env.ErrorIfCRDPathMissing = true
		}
		// Exec goes to the node's InternalIP: the fake node's kubelet
		// listens on 127.0.0.1.
		env.ControlPlane.GetAPIServer().Configure().Set("kubelet-preferred-address-types", "InternalIP")
		cp.cfg, cp.err = env.Start()
		if cp.err != nil {
			return
		}
		cp.env = env
		cp.client, cp.err = kubernetes.NewForConfig(cp.cfg)
	})
	if cp.err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", os.Getenv("KUBEBUILDER_ASSETS"), cp.err)
	}
	ns := fmt.Sprintf("kube-test-%d", cp.ns.Add(1))
	if _, err := cp.client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return rest.CopyConfig(cp.cfg), cp.client, ns
}

// stopControlPlane ends the shared control plane, if one was started.
func stopControlPlane() {
	if controlPlane.env != nil {
		controlPlane.env.Stop()
	}
}
