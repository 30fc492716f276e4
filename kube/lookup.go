package kube

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sessionRef is a live session as its objects describe it.
type sessionRef struct {
	name  string
	rec   record
	state sandbox.State
	// pod is the running (or starting) pod; nil while a Sandbox is
	// suspended or its controller has not made the pod yet.
	pod *corev1.Pod
	// annotations of the object that owns the session (Pod or Sandbox).
	annotations map[string]string
}

// lookup finds a live session by id. An object being deleted counts as
// gone: Terminate has begun, and a second Terminate must say not found.
func (b *Backend) lookup(ctx context.Context, op string, id sandbox.SessionID) (*sessionRef, error) {
	if err := id.Validate(); err != nil {
		return nil, notFound(op, id)
	}
	ref := &sessionRef{name: objectName(id), state: sandbox.StateRunning}
	if b.cfg.Mode == ModeAgentSandbox {
		sb, err := b.dyn.Resource(SandboxGVR).Namespace(b.cfg.Namespace).Get(ctx, ref.name, metav1.GetOptions{})
		if err != nil {
			return nil, apiError(op, id, err)
		}
		if sb.GetDeletionTimestamp() != nil {
			return nil, notFound(op, id)
		}
		ref.annotations = sb.GetAnnotations()
		if n, found, _ := unstructuredInt(sb.Object, "spec", "replicas"); found && n == 0 {
			ref.state = sandbox.StateSuspended
		}
		pods, err := b.client.CoreV1().Pods(b.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(id)})
		if err != nil {
			return nil, apiError(op, id, err)
		}
		for i := range pods.Items {
			if pods.Items[i].DeletionTimestamp == nil {
				ref.pod = &pods.Items[i]
				break
			}
		}
	} else {
		pod, err := b.client.CoreV1().Pods(b.cfg.Namespace).Get(ctx, ref.name, metav1.GetOptions{})
		if err != nil {
			return nil, apiError(op, id, err)
		}
		if pod.DeletionTimestamp != nil {
			return nil, notFound(op, id)
		}
		ref.pod, ref.annotations = pod, pod.Annotations
	}
	rec, err := decodeRecord(ref.annotations)
	if err != nil || rec.ID != id {
		// Not ours, or not this id (a name is a hash prefix, which a
		// foreign object could take): never act on it.
		return nil, notFound(op, id)
	}
	ref.rec = rec
	return ref, nil
}

func decodeRecord(annotations map[string]string) (record, error) {
	var rec record
	raw, ok := annotations[AnnotationSession]
	if !ok {
		return rec, fmt.Errorf("no %s annotation", AnnotationSession)
	}
	err := json.Unmarshal([]byte(raw), &rec)
	return rec, err
}

// unstructuredInt reads an integer field of an unstructured object.
func unstructuredInt(obj map[string]any, fields ...string) (int64, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		if cur, ok = m[f]; !ok {
			return 0, false, nil
		}
	}
	switch n := cur.(type) {
	case int64:
		return n, true, nil
	case float64:
		return int64(n), true, nil
	case json.Number:
		v, err := n.Int64()
		return v, true, err
	}
	return 0, false, fmt.Errorf("%v is not a number", cur)
}
