package sandbox

import (
	"context"
	"os"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

// The session's lifecycle: running, suspended when idle, terminated.

// Snapshot returns the session's description. The local backend does not
// copy files: the snapshot names the host paths that hold the state.
func (l *Local) Snapshot(ctx context.Context, id SessionID) (*Snapshot, error) {
	s, err := l.session("snapshot", id)
	if err != nil {
		return nil, err
	}
	return &Snapshot{Session: *s.describe(), TakenAt: time.Now().UTC()}, nil
}

// Resume brings a suspended session back to running; a running session
// is returned as it is.
func (l *Local) Resume(ctx context.Context, id SessionID) (*Session, error) {
	s, err := l.session("resume", id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return nil, newError("resume", id, ErrSessionNotFound, nil)
	}
	s.wakeLocked()
	s.armIdleLocked()
	return s.describeLocked(), nil
}

// armIdleLocked starts the idle clock when nothing runs in the session.
// When it expires with the session still idle, the session is suspended:
// no process runs in it (none does when it is idle) and its prepared
// confinement is released; files and settings stay.
func (s *localSession) armIdleLocked() {
	if s.limits.IdleTimeout <= 0 || s.terminated || s.suspended || s.active > 0 {
		return
	}
	if s.idle != nil {
		s.idle.Stop()
	}
	s.idleGen++
	gen := s.idleGen
	s.idle = time.AfterFunc(s.limits.IdleTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen == s.idleGen && s.active == 0 && len(s.running) == 0 && !s.terminated {
			s.suspended = true
			s.invalidateLocked()
		}
	})
}

// wakeLocked stops the idle clock and brings a suspended session back.
func (s *localSession) wakeLocked() {
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	s.idleGen++
	s.suspended = false
}

// Terminate kills every running command of the session (their results say
// ReasonTerminated), waits for them, removes the session directory and
// forgets the session. It never removes a mount source outside the
// session root: a caller's directory stays, with what commands wrote.
func (l *Local) Terminate(ctx context.Context, id SessionID) error {
	const op = "terminate"
	l.mu.Lock()
	s := l.sessions[id]
	if s != nil {
		delete(l.sessions, id)
	}
	l.mu.Unlock()
	if s == nil {
		return newError(op, id, ErrSessionNotFound, nil)
	}
	s.mu.Lock()
	s.terminated = true
	close(s.stop)
	s.wakeLocked()
	children := make([]*osconfine.Child, 0, len(s.running))
	for c := range s.running {
		children = append(children, c)
	}
	if s.view != nil {
		// Ending the init ends every process of the view at once; the
		// children's results follow, and releasing the policy after it
		// costs nothing.
		s.view.Close()
	}
	s.invalidateLocked()
	s.mu.Unlock()
	for _, c := range children {
		c.Kill()
	}
	for _, c := range children {
		c.Wait()
	}
	if s.proxy != nil {
		s.proxy.close()
	}
	err := os.RemoveAll(s.root)
	s.lock.Close()
	if err != nil {
		return newError(op, id, ErrIO, err)
	}
	return nil
}
