package kube

import (
	"context"
	"fmt"

	"github.com/go-sandbox/sandbox"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// SandboxGVR is the agent-sandbox resource ModeAgentSandbox creates
// (kubernetes-sigs/agent-sandbox v0.1.x). It is reached through the
// dynamic client: the typed API would pin its own controller-runtime.
var SandboxGVR = schema.GroupVersionResource{Group: "agents.x-k8s.io", Version: "v1alpha1", Resource: "sandboxes"}

// sandboxObject is the Sandbox of a session: the same pod as ModePod, as
// its pod template, one replica.
func (b *Backend) sandboxObject(p *plan) *unstructured.Unstructured {
	meta := b.objectMeta(p)
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: meta.Labels, Annotations: meta.Annotations},
		Spec:       b.podSpec(p),
	}
	// Plain structs of the core API: the conversion cannot fail.
	podTemplate, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(&tmpl)
	metaMap, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(&meta)
	delete(metaMap, "creationTimestamp")
	delete(podTemplate["metadata"].(map[string]any), "creationTimestamp")
	spec := map[string]any{
		"podTemplate": podTemplate,
		"replicas":    int64(1),
	}
	if b.claimed() {
		var claims []any
		for _, v := range scratchVolumes {
			if !v.kept {
				continue
			}
			claimSpec, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(b.cfg.SandboxVolumeClaim)
			claims = append(claims, map[string]any{
				"metadata": map[string]any{"name": v.name, "labels": toAnyMap(meta.Labels)},
				"spec":     claimSpec,
			})
		}
		spec["volumeClaimTemplates"] = claims
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": SandboxGVR.GroupVersion().String(),
		"kind":       "Sandbox",
		"metadata":   metaMap,
		"spec":       spec,
	}}
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// claimNames are the PersistentVolumeClaims the agent-sandbox controller
// makes for a Sandbox's volumeClaimTemplates: "<template>-<sandbox>".
func (b *Backend) claimNames(name string) []string {
	if !b.claimed() {
		return nil
	}
	var out []string
	for _, v := range scratchVolumes {
		if v.kept {
			out = append(out, v.name+"-"+name)
		}
	}
	return out
}

// Suspend scales a ModeAgentSandbox session to zero: its pod goes, its
// Sandbox stays, and Resume brings it back. The workdir, outputs and
// memory survive only as volume claims (Config.SandboxVolumeClaim);
// emptyDirs go with the pod. Commands that run
// are killed with the pod. In ModePod it answers ErrUnsupported: a bare
// pod cannot be stopped without losing it.
func (b *Backend) Suspend(ctx context.Context, id sandbox.SessionID) error {
	const op = "suspend"
	ref, err := b.lookup(ctx, op, id)
	if err != nil {
		return err
	}
	if b.cfg.Mode != ModeAgentSandbox {
		return unsupported(op, id, "suspend", "a bare pod cannot be stopped and kept; use ModeAgentSandbox")
	}
	if err := b.scale(ctx, ref.name, 0); err != nil {
		return apiError(op, id, err)
	}
	if err := poll(ctx, func() (bool, error) {
		r, err := b.lookup(ctx, op, id)
		return err == nil && r.pod == nil, err
	}); err != nil {
		return newError(op, id, sandbox.ErrLifecycle, fmt.Errorf("the pod did not go: %w", err))
	}
	return nil
}

// Resume brings a suspended ModeAgentSandbox session back to one replica
// and waits for its pod. A running session is returned as it is.
func (b *Backend) Resume(ctx context.Context, id sandbox.SessionID) (*sandbox.Session, error) {
	const op = "resume"
	ref, err := b.lookup(ctx, op, id)
	if err != nil {
		return nil, err
	}
	if ref.state == sandbox.StateSuspended {
		if err := b.scale(ctx, ref.name, 1); err != nil {
			return nil, apiError(op, id, err)
		}
		if err := b.waitReady(ctx, id); err != nil {
			return nil, err
		}
	}
	return ref.rec.session(b.Name(), sandbox.StateRunning), nil
}

// scale sets the Sandbox's replicas.
func (b *Backend) scale(ctx context.Context, name string, replicas int) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := b.dyn.Resource(SandboxGVR).Namespace(b.cfg.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
