package kube

import (
	"context"
	"time"

	"github.com/go-sandbox/sandbox"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AttachFilesystem answers ErrUnsupported: a running pod's volumes cannot
// be changed, and recreating the pod would lose what its emptyDirs hold
// and kill what runs. Mounts are given to Provision.
func (b *Backend) AttachFilesystem(ctx context.Context, id sandbox.SessionID, m sandbox.Mount) (sandbox.ResolvedMount, error) {
	const op = "attach filesystem"
	if _, err := b.lookup(ctx, op, id); err != nil {
		return sandbox.ResolvedMount{}, err
	}
	return sandbox.ResolvedMount{}, unsupported(op, id, "attaching a filesystem to a running session",
		"a pod's volumes are fixed when it is created; pass the mount in Spec.Mounts to Provision")
}

// ApplyNetworkPolicy replaces the egress rules of the session's
// NetworkPolicy (and the policy recorded with the session). The CNI
// applies the change to connections made after it.
func (b *Backend) ApplyNetworkPolicy(ctx context.Context, id sandbox.SessionID, p sandbox.NetworkPolicy) error {
	const op = "apply network policy"
	if err := p.Validate(); err != nil {
		return newError(op, id, sandbox.ErrNetworkPolicy, err)
	}
	ref, err := b.lookup(ctx, op, id)
	if err != nil {
		return err
	}
	p = normalizedPolicy(p)
	if err := b.checkNetwork(op, id, p, ref.rec.Profile); err != nil {
		return err
	}
	nps := b.client.NetworkingV1().NetworkPolicies(b.cfg.Namespace)
	np, err := nps.Get(ctx, ref.name, metav1.GetOptions{})
	if err != nil {
		return apiError(op, id, err)
	}
	np.Spec = networkPolicySpec(id, p)
	rec := ref.rec
	rec.NetworkPolicy = p
	setRecord(&np.ObjectMeta, rec)
	if _, err := nps.Update(ctx, np, metav1.UpdateOptions{}); err != nil {
		return apiError(op, id, err)
	}
	return nil
}

// Snapshot describes the session as its objects say; it copies no files
// (a pod's emptyDirs cannot be copied without running commands in it).
func (b *Backend) Snapshot(ctx context.Context, id sandbox.SessionID) (*sandbox.Snapshot, error) {
	const op = "snapshot"
	ref, err := b.lookup(ctx, op, id)
	if err != nil {
		return nil, err
	}
	s := ref.rec.session(b.Name(), ref.state)
	if np, err := b.client.NetworkingV1().NetworkPolicies(b.cfg.Namespace).Get(ctx, ref.name, metav1.GetOptions{}); err == nil {
		// ApplyNetworkPolicy records the current policy on the
		// NetworkPolicy object; the pod's annotation keeps the first.
		if rec, err := decodeRecord(np.Annotations); err == nil && rec.ID == id {
			s.NetworkPolicy = rec.NetworkPolicy
		}
	}
	return &sandbox.Snapshot{Session: *s, TakenAt: time.Now().UTC()}, nil
}
