package netproxy

import (
	"net/netip"
	"sync"
	"time"
)

// Protocol names how a client asked for a connection.
type Protocol string

const (
	ProtoHTTPConnect Protocol = "http-connect" // an HTTP CONNECT tunnel
	ProtoHTTP        Protocol = "http"         // an absolute-form plain HTTP request
	ProtoSOCKS5      Protocol = "socks5"       // a SOCKS5 CONNECT
	ProtoSOCKS4      Protocol = "socks4"       // refused: SOCKS4 cannot name what the guard needs
)

// Event is the audit record of one attempt: one tunnel, or one plain HTTP
// request. Refusals are delivered at once; admitted attempts when the
// connection ends, with the bytes that crossed it.
type Event struct {
	Session  string
	Host     string     // as the client asked, normalised (ASCII, lower case); empty if unreadable
	Port     int        // 0 if unreadable
	Addr     netip.Addr // the address dialed, or the one the guard refused; zero if none
	Protocol Protocol
	// Allowed is the proxy's verdict: true when the list and the guard
	// admitted the attempt (the upstream may still have been unreachable,
	// which Reason then says).
	Allowed bool
	// Reason says why an attempt was refused or failed, or, when it was
	// admitted, which entry admitted it ("allowed by *.example.com").
	Reason    string
	BytesUp   int64 // client to upstream, after the proxy's own handshake
	BytesDown int64 // upstream to client
	Start     time.Time
	Duration  time.Duration
}

// Counter tallies events; a backend keeps one per exec (or per session)
// and calls Record from its [Session.OnEvent]. The zero value is ready.
type Counter struct {
	mu  sync.Mutex
	sum Summary
}

// Summary is what a Counter has seen.
type Summary struct {
	Allowed   int   // attempts admitted
	Refused   int   // attempts refused
	BytesUp   int64 // over all admitted attempts
	BytesDown int64
	Refusals  []Event // the refused attempts, at most MaxRefusals of them
}

// MaxRefusals bounds Summary.Refusals, so a command that retries forever
// cannot grow its caller's memory.
const MaxRefusals = 64

// Record adds e.
func (c *Counter) Record(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Allowed {
		c.sum.Allowed++
	} else {
		c.sum.Refused++
		if len(c.sum.Refusals) < MaxRefusals {
			c.sum.Refusals = append(c.sum.Refusals, e)
		}
	}
	c.sum.BytesUp += e.BytesUp
	c.sum.BytesDown += e.BytesDown
}

// Take returns the tally and resets it, so one Counter can serve
// successive execs of a session.
func (c *Counter) Take() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sum
	c.sum = Summary{}
	return s
}

// Snapshot returns the tally without resetting it.
func (c *Counter) Snapshot() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sum
	s.Refusals = append([]Event(nil), s.Refusals...)
	return s
}
