package fakenode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Node is a node for a control plane without scheduler, kubelet or CNI
// (envtest): it binds unscheduled pods to itself, runs each pod as a
// session of a local sandbox backend (the "container"), reports it
// Running, serves exec for it through its Kubelet, and, when the pod is
// deleted, ends the session and removes the pod, as a kubelet does.
//
// A container's volumes are the local session's directories: its
// workdir, TMPDIR and canonical mounts stand for the pod's emptyDirs, and
// hostPath volumes become mounts of the local session at the same target.
// Where the local session has a view of its own (sandbox.ViewMode), its
// commands see the pod's paths: the workdir at sandbox.WorkdirTarget
// (the container's working directory must be that), /tmp, the canonical
// mounts and the volumes at their mount paths; the container's
// environment is passed. Otherwise (a host that cannot make a view)
// commands see host paths, and get the local session's environment.
//
// Unlike a pod's containers, where every exec shares one PID namespace,
// each command of a local session with a view runs in a PID namespace of
// its own: a second exec does not see the first one's processes (the
// local session ends them itself when their exec ends).
type Node struct {
	Name    string
	Kubelet *Kubelet

	client kubernetes.Interface
	local  *sandbox.Local
	// EnforceNetworkPolicies makes the node act as a CNI that enforces
	// NetworkPolicy egress for the two policies the local backend can
	// apply: no egress rule (deny-all) and one empty rule (everything).
	// Anything else is treated as deny-all.
	enforceNP bool

	mu         sync.Mutex
	containers map[types.UID]*container
	byName     map[string]*container // namespace/name
	done       chan struct{}
}

type container struct {
	namespace, name string
	uid             types.UID
	session         *sandbox.Session
	policy          sandbox.NetworkPolicy
}

// StartNode registers a Node named name with the API server (addresses
// 127.0.0.1, kubelet port of its exec endpoint) and runs its loop until
// ctx ends.
func StartNode(ctx context.Context, client kubernetes.Interface, local *sandbox.Local, name string, enforceNetworkPolicies bool) (*Node, error) {
	n := &Node{Name: name, client: client, local: local, enforceNP: enforceNetworkPolicies,
		containers: map[types.UID]*container{}, byName: map[string]*container{}, done: make(chan struct{})}
	n.Kubelet = NewKubelet(n)
	_, portStr, _ := net.SplitHostPort(n.Kubelet.Server.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		n.Kubelet.Close()
		return nil, err
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		n.Kubelet.Close()
		return nil, err
	}
	go n.loop(ctx)
	return n, nil
}

// Wait waits until the loop has ended (its context was cancelled) and
// every container's session is terminated.
func (n *Node) Wait() { <-n.done }

func (n *Node) loop(ctx context.Context) {
	defer close(n.done)
	defer n.Kubelet.Close()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		n.sync(ctx)
		select {
		case <-ctx.Done():
			n.mu.Lock()
			for _, c := range n.containers {
				n.local.Terminate(context.Background(), c.session.ID)
			}
			n.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// sync does one round of a scheduler's and a kubelet's work.
func (n *Node) sync(ctx context.Context) {
	pods, err := n.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	live := map[types.UID]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		live[pod.UID] = true
		switch {
		case pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil:
			n.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
				Target:     corev1.ObjectReference{Kind: "Node", Name: n.Name},
			}, metav1.CreateOptions{})
		case pod.Spec.NodeName != n.Name:
		case pod.DeletionTimestamp != nil:
			n.stop(pod.UID)
			n.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		default:
			n.run(ctx, pod)
		}
	}
	// Pods removed without a graceful deletion (force delete): their
	// containers go too.
	n.mu.Lock()
	var gone []types.UID
	for uid := range n.containers {
		if !live[uid] {
			gone = append(gone, uid)
		}
	}
	n.mu.Unlock()
	for _, uid := range gone {
		n.stop(uid)
	}
}

// run starts a pod's container once, and keeps its network policy in
// step with the NetworkPolicies that select it.
func (n *Node) run(ctx context.Context, pod *corev1.Pod) {
	policy := sandbox.AllowAll()
	if n.enforceNP {
		policy = n.egress(ctx, pod)
	}
	n.mu.Lock()
	c := n.containers[pod.UID]
	n.mu.Unlock()
	if c != nil {
		if n.enforceNP && !samePolicy(policy, c.policy) {
			if n.local.ApplyNetworkPolicy(ctx, c.session.ID, policy) == nil {
				c.policy = policy
			}
		}
		return
	}
	if pod.Status.Phase == corev1.PodFailed {
		return
	}
	spec := sandbox.Spec{NetworkPolicy: policy, Labels: map[string]string{"pod": pod.Namespace + "/" + pod.Name}}
	if n.local.Capabilities().Enforcement.View.Enforced {
		spec.Env = map[string]string{}
		for _, ctr := range pod.Spec.Containers {
			for _, e := range ctr.Env {
				spec.Env[e.Name] = e.Value
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.HostPath == nil {
			continue // emptyDirs: the local session's own directories
		}
		for _, ctr := range pod.Spec.Containers {
			for _, m := range ctr.VolumeMounts {
				if m.Name == v.Name {
					access := sandbox.ReadWrite
					if m.ReadOnly {
						access = sandbox.ReadOnly
					}
					spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: v.HostPath.Path, Target: m.MountPath, Access: access})
				}
			}
		}
	}
	s, err := n.local.Provision(ctx, spec)
	if err == nil && len(s.Dirs) > 0 {
		for _, ctr := range pod.Spec.Containers {
			if ctr.WorkingDir != "" && ctr.WorkingDir != sandbox.WorkdirTarget {
				n.local.Terminate(context.Background(), s.ID)
				err = fmt.Errorf("container %s: working directory %s: the local session's is %s", ctr.Name, ctr.WorkingDir, sandbox.WorkdirTarget)
			}
		}
	}
	status := corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "127.0.0.1", PodIP: "127.0.0.1"}
	if err != nil {
		status = corev1.PodStatus{Phase: corev1.PodFailed, Message: "fake node: " + err.Error()}
	} else {
		c = &container{namespace: pod.Namespace, name: pod.Name, uid: pod.UID, session: s, policy: policy}
		n.mu.Lock()
		n.containers[pod.UID] = c
		n.byName[pod.Namespace+"/"+pod.Name] = c
		n.mu.Unlock()
		for _, ctr := range pod.Spec.Containers {
			status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{
				Name: ctr.Name, Image: ctr.Image, Ready: true, Started: new(bool),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
			})
		}
		status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	pod.Status = status
	if _, err := n.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil && c != nil {
		// Retried next round: forget the container so it is redone.
		n.stop(pod.UID)
	}
}

// egress is the network policy the pod's NetworkPolicies give it.
func (n *Node) egress(ctx context.Context, pod *corev1.Pod) sandbox.NetworkPolicy {
	nps, err := n.client.NetworkingV1().NetworkPolicies(pod.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return sandbox.DenyAll()
	}
	selected, open := false, false
	for _, np := range nps.Items {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) || !hasEgress(&np) {
			continue
		}
		selected = true
		for _, r := range np.Spec.Egress {
			if len(r.To) == 0 && len(r.Ports) == 0 {
				open = true
			}
		}
	}
	if !selected || open {
		return sandbox.AllowAll()
	}
	return sandbox.DenyAll()
}

func hasEgress(np *networkingv1.NetworkPolicy) bool {
	for _, t := range np.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeEgress {
			return true
		}
	}
	return false
}

func samePolicy(a, b sandbox.NetworkPolicy) bool {
	return a.IsDenyAll() == b.IsDenyAll() && a.Mode == b.Mode
}

// stop ends a pod's container.
func (n *Node) stop(uid types.UID) {
	n.mu.Lock()
	c := n.containers[uid]
	delete(n.containers, uid)
	if c != nil {
		delete(n.byName, c.namespace+"/"+c.name)
	}
	n.mu.Unlock()
	if c != nil {
		n.local.Terminate(context.Background(), c.session.ID)
	}
}

// Run runs an exec'd command in the pod's local session.
func (n *Node) Run(ctx context.Context, namespace, pod string, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	n.mu.Lock()
	c := n.byName[namespace+"/"+pod]
	n.mu.Unlock()
	if c == nil {
		return 0, fmt.Errorf("%s/%s: %w", namespace, pod, errNoPod)
	}
	if len(argv) == 0 {
		return 0, errors.New("empty command")
	}
	req := sandbox.ExecRequest{Command: argv[0], Args: argv[1:], StdinReader: stdin, Stdout: stdout, Stderr: stderr,
		// The container has no timeout of its own; the backend's
		// script brings one.
		Timeout: time.Hour}
	res, err := n.local.Exec(ctx, c.session.ID, req)
	if err != nil {
		if apierrors.IsNotFound(err) || errors.Is(err, sandbox.ErrSessionNotFound) {
			return 0, fmt.Errorf("%s/%s: %w", namespace, pod, errNoPod)
		}
		return 0, err
	}
	if res.ExitCode < 0 {
		return 128 + 9, nil // ended by a signal, as a container runtime reports it
	}
	return res.ExitCode, nil
}

// sessions are the local sessions of the live pods.
func (n *Node) sessions() []*sandbox.Session {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*sandbox.Session
	for _, c := range n.containers {
		out = append(out, c.session)
	}
	return out
}
