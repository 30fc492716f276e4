package kube

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-sandbox/sandbox"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Idle suspension (ModeAgentSandbox, Limits.IdleTimeout > 0) is kept on
// the Sandbox itself, so that any process sharing the sessions can judge
// it: Exec marks the Sandbox busy until its deadline when it starts, and
// active when it ends; SuspendIdle (run by RunJanitor) suspends a session
// idle for longer than its IdleTimeout; Exec resumes a suspended session.
const (
	annotationLastActive = "sandbox.go-sandbox.dev/last-active"
	annotationBusyUntil  = "sandbox.go-sandbox.dev/busy-until"
)

// tracksIdle reports whether a session's idleness is tracked.
func (b *Backend) tracksIdle(rec record) bool {
	return b.cfg.Mode == ModeAgentSandbox && rec.Limits.IdleTimeout > 0
}

// markBusy records that a command runs until at most until.
func (b *Backend) markBusy(ctx context.Context, name string, until time.Time) error {
	return b.annotate(ctx, name, map[string]any{annotationBusyUntil: until.UTC().Format(time.RFC3339Nano)})
}

// markIdle records that the last command ended now.
func (b *Backend) markIdle(ctx context.Context, name string) error {
	return b.annotate(ctx, name, map[string]any{
		annotationLastActive: now().UTC().Format(time.RFC3339Nano),
		annotationBusyUntil:  nil, // a merge patch's null removes it
	})
}

func (b *Backend) annotate(ctx context.Context, name string, annotations map[string]any) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	_, err := b.dyn.Resource(SandboxGVR).Namespace(b.cfg.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// idleSince says since when a session has been idle, or false while a
// command may still run in it.
func idleSince(rec record, annotations map[string]string, at time.Time) (time.Time, bool) {
	if until, err := time.Parse(time.RFC3339Nano, annotations[annotationBusyUntil]); err == nil && at.Before(until) {
		return time.Time{}, false
	}
	since := rec.CreatedAt
	if last, err := time.Parse(time.RFC3339Nano, annotations[annotationLastActive]); err == nil && last.After(since) {
		since = last
	}
	return since, true
}

// SuspendIdle suspends this owner's ModeAgentSandbox sessions that have
// been idle for longer than their IdleTimeout, and returns their ids.
// RunJanitor calls it every round.
func (b *Backend) SuspendIdle(ctx context.Context) ([]sandbox.SessionID, error) {
	if b.cfg.Mode != ModeAgentSandbox {
		return nil, nil
	}
	sessions, err := b.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	var suspended []sandbox.SessionID
	var errs []error
	for _, s := range sessions {
		if s.State != sandbox.StateRunning || s.Limits.IdleTimeout <= 0 {
			continue
		}
		ref, err := b.lookup(ctx, "suspend idle", s.ID)
		if err != nil {
			continue
		}
		since, idle := idleSince(ref.rec, ref.annotations, now())
		if !idle || now().Sub(since) < s.Limits.IdleTimeout {
			continue
		}
		if err := b.Suspend(ctx, s.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		suspended = append(suspended, s.ID)
	}
	return suspended, errors.Join(errs...)
}
