package sandbox

import (
	"context"
	"os"
	"slices"

	"github.com/go-sandbox/sandbox/internal/netproxy"
	"github.com/go-sandbox/sandbox/osconfine"
)

// This file holds the calls that change a live session's policy. Each
// builds the new confinement before it replaces the old one, so a change
// the host cannot enforce leaves the session as it was.

// AttachFilesystem adds a mount; the next Exec runs with it. A mount the
// session cannot enforce (a read-only mount inside a writable root) is
// refused and the session is left as it was.
func (l *Local) AttachFilesystem(ctx context.Context, id SessionID, m Mount) (ResolvedMount, error) {
	const op = "attach filesystem"
	s, err := l.session(op, id)
	if err != nil {
		return ResolvedMount{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return ResolvedMount{}, newError(op, id, ErrSessionNotFound, nil)
	}
	t, err := NormalizeTarget(m.Target)
	if err != nil {
		return ResolvedMount{}, newError(op, id, ErrInvalidRequest, err)
	}
	if !validAccess(m.Access) {
		return ResolvedMount{}, invalid(op, id, "mount %s: access %q is neither read_only nor read_write", t, m.Access)
	}
	for _, have := range s.mounts {
		if have.Target == t {
			return ResolvedMount{}, invalid(op, id, "duplicate mount target %s", t)
		}
	}
	if s.view != nil {
		if err := checkViewTarget(t); err != nil {
			return ResolvedMount{}, newError(op, id, ErrInvalidRequest, err)
		}
	}
	rm, created, err := s.resolve(m)
	if err != nil {
		return ResolvedMount{}, newError(op, id, ErrInvalidRequest, err)
	}
	if s.view != nil {
		// Shown first, then confined: the new rules name a path that
		// must exist in the view. A failure leaves the session as it
		// was (nothing was mounted).
		err := s.makeMountPoints([]ResolvedMount{rm})
		if err == nil {
			err = s.view.Attach(osconfine.ViewMount{Source: rm.Source, Target: rm.Target, ReadOnly: rm.Access == ReadOnly})
		}
		if err != nil {
			if created != "" {
				os.RemoveAll(created)
			}
			return ResolvedMount{}, newError(op, id, ErrInvalidRequest, err)
		}
	}
	old, oldPrep := s.mounts, s.prepared
	s.mounts = append(slices.Clone(s.mounts), rm)
	s.prepared = nil
	if _, err := s.preparedLocked(op); err != nil {
		s.mounts, s.prepared = old, oldPrep
		if created != "" {
			os.RemoveAll(created)
		}
		return ResolvedMount{}, err
	}
	if oldPrep != nil {
		oldPrep.Close()
	}
	return rm, nil
}

// ApplyNetworkPolicy replaces the network policy for the next Exec. A
// malformed policy is ErrNetworkPolicy; one this host cannot enforce is
// ErrUnsupported (naming what is missing); either way the old one stays.
func (l *Local) ApplyNetworkPolicy(ctx context.Context, id SessionID, p NetworkPolicy) error {
	const op = "apply network policy"
	s, err := l.session(op, id)
	if err != nil {
		return err
	}
	if err := p.validate(); err != nil {
		return newError(op, id, ErrNetworkPolicy, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return newError(op, id, ErrSessionNotFound, nil)
	}
	p = p.normalized()
	if s.proxy != nil && isAllowList(p) {
		// From one list to another: the proxy reads the list at every
		// connection, so this takes effect at once, for running commands
		// too; the confinement stays as it is.
		list, err := netproxy.ParseList(p.AllowedHosts)
		if err != nil {
			return newError(op, id, ErrNetworkPolicy, err)
		}
		s.proxy.list.Store(list)
		s.network = p
		return nil
	}
	old, oldPrep, oldProxy := s.network, s.prepared, s.proxy
	s.network, s.prepared, s.proxy = p, nil, nil
	if _, err := s.preparedLocked(op); err != nil {
		if s.proxy != nil {
			s.proxy.close()
		}
		s.network, s.prepared, s.proxy = old, oldPrep, oldProxy
		return err
	}
	if oldPrep != nil {
		oldPrep.Close()
	}
	if oldProxy != nil {
		// Commands still running in the old namespace lose the proxy:
		// the new policy holds for them at once.
		oldProxy.close()
	}
	return nil
}
