package kube

import (
	"context"
	"errors"
	"time"

	"github.com/go-sandbox/sandbox"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ownerSelector selects every object this host's backend created.
func (b *Backend) ownerSelector() string {
	return LabelManagedBy + "=" + managedBy + "," + LabelOwner + "=" + b.cfg.Owner
}

// Sessions lists the live sessions of this owner (Config.Owner), from
// their NetworkPolicies: Provision creates one first for every session and
// Terminate deletes it last, so it also finds sessions whose pod is gone
// or was never made. That is how a restarted host process finds its
// sessions again.
func (b *Backend) Sessions(ctx context.Context) ([]sandbox.Session, error) {
	const op = "sessions"
	nps, err := b.client.NetworkingV1().NetworkPolicies(b.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: b.ownerSelector()})
	if err != nil {
		return nil, apiError(op, "", err)
	}
	var out []sandbox.Session
	for _, np := range nps.Items {
		s, ok := b.describeOrphan(ctx, &np)
		if ok {
			out = append(out, *s)
		}
	}
	return out, nil
}

// describeOrphan describes the session a NetworkPolicy belongs to. A
// session whose pod is missing or finished is reported Terminated: only
// Sweep (or Terminate) removes it.
func (b *Backend) describeOrphan(ctx context.Context, np *networkingv1.NetworkPolicy) (*sandbox.Session, bool) {
	rec, err := decodeRecord(np.Annotations)
	if err != nil || objectName(rec.ID) != np.Name {
		return nil, false
	}
	ref, err := b.lookup(ctx, "sessions", rec.ID)
	if err != nil {
		return rec.session(b.Name(), sandbox.StateTerminated), true
	}
	state := ref.state
	if ref.pod != nil {
		if _, _, failed := podReady(ref.pod); failed {
			state = sandbox.StateTerminated
		}
	}
	return ref.rec.session(b.Name(), state), true
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

// RunJanitor calls Sweep every interval until ctx ends, reporting each
// round's errors to onError (which may be nil).
func (b *Backend) RunJanitor(ctx context.Context, every time.Duration, keep func(sandbox.Session) bool, onError func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := b.Sweep(ctx, keep); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
