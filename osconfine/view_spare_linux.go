//go:build linux

package osconfine

import "sync"

// Spare inits: starting a session init costs a process start and the Go
// runtime's start-up, a few milliseconds that Provision would otherwise
// wait for. So each StartView takes an init that was started earlier, and
// starts the next one in the background: one spare per owner identity (a
// backend has one), idle until a view needs it. A spare dies with the host
// like any init (Pdeathsig and the end of its socket).

// spareInits is the process's spare inits.
var spareInits = &spares{ready: make(map[Identity]*spare)}

type spares struct {
	mu    sync.Mutex
	ready map[Identity]*spare
}

// spare is an init being started or waiting for its spec.
type spare struct {
	done chan struct{} // closed when the start has finished
	v    *View
	err  error
}

// take returns an init for owner that waits for its spec. The caller
// calls refill once it has set that init up: the next spare is started
// then, not while the caller waits (starting an init forks this process,
// which holds up its other threads for as long as copying its memory map
// takes, a millisecond or more for a large host).
func (s *spares) take(owner Identity) (*View, error) {
	s.mu.Lock()
	sp := s.ready[owner]
	delete(s.ready, owner)
	s.mu.Unlock()
	if sp == nil {
		sp = startSpare(owner)
	}
	<-sp.done
	if sp.err != nil || sp.v.gone() {
		// A spare that failed or died while idle: start one now, so that
		// the error the caller sees is this start's.
		return startViewProcess("init", owner)
	}
	return sp.v, nil
}

// refill starts a spare for owner unless one is there.
func (s *spares) refill(owner Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready[owner] == nil {
		s.ready[owner] = startSpare(owner)
	}
}

func startSpare(owner Identity) *spare {
	sp := &spare{done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		sp.v, sp.err = startViewProcess("init", owner)
	}()
	return sp
}

// gone reports whether the init's connection has ended.
func (v *View) gone() bool {
	select {
	case <-v.dead:
		return true
	default:
		return false
	}
}
