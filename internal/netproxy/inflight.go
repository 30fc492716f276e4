package netproxy

import (
	"sync"
	"time"
)

// InFlight counts the client connections a session's proxy is handling. A
// command can end as soon as it has an answer, before the proxy has
// reported an admitted attempt (the event is emitted when the connection
// ends), so a caller that summarises what the command tried waits for the
// connections accepted while it ran. The zero value is ready to use.
type InFlight struct {
	mu      sync.Mutex
	next    uint64
	open    map[uint64]time.Time // accept time of each connection handled
	changed chan struct{}        // closed and replaced at every end
}

func (f *InFlight) begin() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == nil {
		f.open = make(map[uint64]time.Time)
	}
	f.next++
	f.open[f.next] = time.Now()
	return f.next
}

func (f *InFlight) end(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.open, id)
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// Wait returns once every connection accepted at or after since has been
// handled (and its events emitted), or after max, whichever comes first.
func (f *InFlight) Wait(since time.Time, max time.Duration) {
	timeout := time.NewTimer(max)
	defer timeout.Stop()
	for {
		f.mu.Lock()
		pending := false
		for _, at := range f.open {
			if !at.Before(since) {
				pending = true
				break
			}
		}
		if !pending {
			f.mu.Unlock()
			return
		}
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			return
		}
	}
}
