package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Backend runs sessions as pods. It keeps no state of its own: every call
// reads the session's objects, so several processes (or a restarted one)
// can share sessions.
type Backend struct {
	cfg    Config
	client kubernetes.Interface
	dyn    dynamic.Interface
}

var _ sandbox.Backend = (*Backend)(nil)

// New checks cfg and builds the clients it does not carry.
func New(cfg Config) (*Backend, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, client: cfg.Clientset, dyn: cfg.Dynamic}
	if b.client == nil {
		if b.client, err = kubernetes.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("kube: %w", err)
		}
	}
	if b.dyn == nil && cfg.Mode == ModeAgentSandbox {
		if cfg.RESTConfig == nil {
			return nil, errors.New("kube: ModeAgentSandbox needs Config.Dynamic or Config.RESTConfig")
		}
		if b.dyn, err = dynamic.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("kube: %w", err)
		}
	}
	return b, nil
}

// Name is "kube".
func (b *Backend) Name() string { return backendName }

// Provision creates the session's NetworkPolicy, then its Pod (or
// Sandbox), and waits until the pod runs. The policy comes first so that
// the pod never runs without it. A failed Provision deletes what it made.
func (b *Backend) Provision(ctx context.Context, spec sandbox.Spec) (*sandbox.Session, error) {
	const op = "provision"
	p, err := b.plan(spec)
	if err != nil {
		return nil, err
	}
	id := p.session.ID
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.cfg.ReadyTimeout)
		defer cancel()
	}
	np := b.networkPolicy(p)
	if _, err := b.client.NetworkingV1().NetworkPolicies(b.cfg.Namespace).Create(ctx, np, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, invalid(op, id, "session id %s is already in use", id)
		}
		return nil, apiError(op, id, err)
	}
	if err := b.create(ctx, p); err != nil {
		b.cleanup(ctx, p)
		if apierrors.IsAlreadyExists(err) {
			return nil, invalid(op, id, "session id %s is already in use", id)
		}
		return nil, apiError(op, id, err)
	}
	if err := b.waitReady(ctx, id); err != nil {
		b.cleanup(ctx, p)
		return nil, err
	}
	return &p.session, nil
}

// create makes the object that owns the session's pod.
func (b *Backend) create(ctx context.Context, p *plan) error {
	if b.cfg.Mode == ModeAgentSandbox {
		_, err := b.dyn.Resource(SandboxGVR).Namespace(b.cfg.Namespace).Create(ctx, b.sandboxObject(p), metav1.CreateOptions{})
		return err
	}
	_, err := b.client.CoreV1().Pods(b.cfg.Namespace).Create(ctx, b.pod(p), metav1.CreateOptions{})
	return err
}

// cleanup removes what a failed Provision created, with a context of its
// own: the caller's may be the reason it failed.
func (b *Backend) cleanup(ctx context.Context, p *plan) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.TerminateTimeout)
	defer cancel()
	b.deleteObjects(ctx, p.session.ID, p.name)
	b.waitGone(ctx, p.session.ID, p.name)
}

// waitReady polls until the session's pod runs its container; a pod that
// cannot start (failed, image not pulled, bad configuration) ends the wait
// with its reason.
func (b *Backend) waitReady(ctx context.Context, id sandbox.SessionID) error {
	const op = "provision"
	var last string
	err := poll(ctx, func() (bool, error) {
		ref, err := b.lookup(ctx, op, id)
		if err != nil {
			return false, err
		}
		if ref.pod == nil {
			last = "no pod yet"
			return false, nil
		}
		ready, why, failed := podReady(ref.pod)
		if failed {
			return false, newError(op, id, sandbox.ErrLifecycle, fmt.Errorf("pod %s cannot run: %s", ref.pod.Name, why))
		}
		last = why
		return ready, nil
	})
	var se *sandbox.Error
	if errors.As(err, &se) {
		return se
	}
	if err != nil {
		return newError(op, id, sandbox.ErrLifecycle, fmt.Errorf("pod not running (%s): %w", last, err))
	}
	return nil
}

// podReady says whether the container runs, why not, and whether it never
// will.
func podReady(pod *corev1.Pod) (ready bool, why string, failed bool) {
	switch pod.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		return false, "phase " + string(pod.Status.Phase) + " " + pod.Status.Message, true
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != containerName {
			continue
		}
		if cs.State.Running != nil {
			return true, "", false
		}
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
				return false, w.Reason + ": " + w.Message, true
			}
			return false, "waiting: " + w.Reason, false
		}
		if t := cs.State.Terminated; t != nil {
			return false, fmt.Sprintf("container exited %d: %s", t.ExitCode, t.Reason), true
		}
	}
	return false, "phase " + string(pod.Status.Phase), false
}

// Terminate deletes the session's objects and waits until its pod is
// gone, so that nothing of it runs when Terminate returns.
func (b *Backend) Terminate(ctx context.Context, id sandbox.SessionID) error {
	const op = "terminate"
	ref, err := b.lookup(ctx, op, id)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.cfg.TerminateTimeout)
		defer cancel()
	}
	if err := b.deleteObjects(ctx, id, ref.name); err != nil {
		return apiError(op, id, err)
	}
	if err := b.waitGone(ctx, id, ref.name); err != nil {
		return newError(op, id, sandbox.ErrLifecycle, fmt.Errorf("the session's pod is still there: %w", err))
	}
	return nil
}

// deleteObjects deletes every object of a session; missing ones are fine.
func (b *Backend) deleteObjects(ctx context.Context, id sandbox.SessionID, name string) error {
	ns := b.cfg.Namespace
	opts := metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)}
	var errs []error
	keep := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if b.dyn != nil {
		keep(b.dyn.Resource(SandboxGVR).Namespace(ns).Delete(ctx, name, opts))
	}
	// Pods by label, not only by name: in ModeAgentSandbox the
	// controller names them, and a pod must not outlive its session.
	pods, err := b.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector(id)})
	keep(err)
	if err == nil {
		for _, pod := range pods.Items {
			keep(b.client.CoreV1().Pods(ns).Delete(ctx, pod.Name, opts))
		}
	}
	// The controller's claims are owned by the Sandbox, but a cluster's
	// garbage collector may be slow or absent: the session's data must
	// not outlive it.
	for _, claim := range b.claimNames(name) {
		keep(b.client.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim, opts))
	}
	keep(b.client.NetworkingV1().NetworkPolicies(ns).Delete(ctx, name, opts))
	return errors.Join(errs...)
}

// waitGone polls until no pod and no Sandbox of the session is left.
func (b *Backend) waitGone(ctx context.Context, id sandbox.SessionID, name string) error {
	return poll(ctx, func() (bool, error) {
		pods, err := b.client.CoreV1().Pods(b.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(id)})
		if err != nil {
			return false, err
		}
		if len(pods.Items) > 0 {
			return false, nil
		}
		if b.dyn != nil {
			_, err := b.dyn.Resource(SandboxGVR).Namespace(b.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				return false, nil
			}
			if !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return true, nil
	})
}

// selector selects every object of a session.
func selector(id sandbox.SessionID) string {
	return LabelManagedBy + "=" + managedBy + "," + LabelSession + "=" + sessionLabel(id)
}

// poll calls cond every pollInterval until it is done, fails, or ctx ends.
func poll(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		done, err := cond()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pollInterval is short because sessions are created interactively; one
// GET per interval is cheap for an API server.
const pollInterval = 100 * time.Millisecond
