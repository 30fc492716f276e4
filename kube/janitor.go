package kube

import (
	"context"
	"errors"
	"time"

	"github.com/go-sandbox/sandbox"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ownerSelector selects every object this host's backend created.
func (b *Backend) ownerSelector() string {
	return LabelManagedBy + "=" + managedBy + "," + LabelOwner + "=" + b.cfg.Owner
}

// Sessions lists the sessions of this owner (Config.Owner) from every
// kind of object a session has (NetworkPolicy, Pod, Sandbox), so that it
// also finds a session whose pod is gone or was never made, or whose
// policy was removed by hand. That is how a restarted host process finds
// its sessions again.
func (b *Backend) Sessions(ctx context.Context) ([]sandbox.Session, error) {
	const op = "sessions"
	ns, opts := b.cfg.Namespace, metav1.ListOptions{LabelSelector: b.ownerSelector()}
	var metas []metav1.Object
	nps, err := b.client.NetworkingV1().NetworkPolicies(ns).List(ctx, opts)
	if err != nil {
		return nil, apiError(op, "", err)
	}
	for i := range nps.Items {
		metas = append(metas, &nps.Items[i])
	}
	pods, err := b.client.CoreV1().Pods(ns).List(ctx, opts)
	if err != nil {
		return nil, apiError(op, "", err)
	}
	for i := range pods.Items {
		metas = append(metas, &pods.Items[i])
	}
	if b.cfg.Mode == ModeAgentSandbox {
		sbs, err := b.dyn.Resource(SandboxGVR).Namespace(ns).List(ctx, opts)
		if err != nil {
			return nil, apiError(op, "", err)
		}
		for i := range sbs.Items {
			metas = append(metas, &sbs.Items[i])
		}
	}
	seen := map[sandbox.SessionID]bool{}
	var out []sandbox.Session
	for _, m := range metas {
		rec, err := decodeRecord(m.GetAnnotations())
		if err != nil || seen[rec.ID] || rec.ID.Validate() != nil {
			continue
		}
		seen[rec.ID] = true
		out = append(out, *b.describeSession(ctx, rec))
	}
	return out, nil
}

// describeSession describes a session found by its record. A session
// whose pod is missing or finished is reported Terminated: only Sweep (or
// Terminate) removes it.
func (b *Backend) describeSession(ctx context.Context, rec record) *sandbox.Session {
	ref, err := b.lookup(ctx, "sessions", rec.ID)
	if err != nil {
		return rec.session(b.Name(), sandbox.StateTerminated)
	}
	state := ref.state
	if ref.pod != nil {
		if _, _, failed := podReady(ref.pod); failed {
			state = sandbox.StateTerminated
		}
	}
	return ref.rec.session(b.Name(), state)
}

// Sweep deletes this owner's sessions that keep rejects, and the remains
// of sessions whose pod ended or is missing (a host that died while
// provisioning), and returns the ids it deleted. A nil keep keeps every
// live session. It is the janitor a host runs after a restart, with keep
// saying which sessions it still knows.
func (b *Backend) Sweep(ctx context.Context, keep func(sandbox.Session) bool) ([]sandbox.SessionID, error) {
	sessions, err := b.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	var removed []sandbox.SessionID
	var errs []error
	for _, s := range sessions {
		wanted := keep == nil || keep(s)
		if s.State != sandbox.StateTerminated && wanted {
			continue
		}
		if wanted && time.Since(s.CreatedAt) < b.cfg.ReadyTimeout {
			// Its pod may not exist yet: a Provision is under way.
			continue
		}
		if err := b.deleteObjects(ctx, s.ID, objectName(s.ID)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, s.ID)
	}
	return removed, errors.Join(errs...)
}

// RunJanitor calls Sweep and SuspendIdle every interval until ctx ends,
// reporting each round's errors to onError (which may be nil).
func (b *Backend) RunJanitor(ctx context.Context, every time.Duration, keep func(sandbox.Session) bool, onError func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_, err := b.Sweep(ctx, keep)
		_, idleErr := b.SuspendIdle(ctx)
		if err := errors.Join(err, idleErr); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
