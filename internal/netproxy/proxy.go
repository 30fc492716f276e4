package netproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Resolver looks names up for the proxy. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer opens upstream connections. *net.Dialer satisfies it. The proxy
// always hands it a resolved "ip:port", never a name, so the address the
// guard checked is the address dialed.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Config tunes a Proxy. The zero value is usable.
type Config struct {
	// Resolver resolves names on the proxy's side; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Dialer dials resolved addresses; nil means a net.Dialer.
	Dialer Dialer
	// HandshakeTimeout bounds reading a request's header, the SOCKS5
	// handshake, and a TLS ClientHello once its first byte arrived;
	// 0 means 10s.
	HandshakeTimeout time.Duration
	// DialTimeout bounds resolving and dialing one attempt; 0 means 30s.
	DialTimeout time.Duration
	// MaxHeaderBytes bounds an HTTP request's header; 0 means 32 KiB.
	MaxHeaderBytes int
}

func (c Config) withDefaults() Config {
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{}
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 30 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 32 << 10
	}
	return c
}

// Session is what the proxy needs of one sandbox session.
type Session struct {
	// ID is copied into every Event.
	ID string
	// Policy returns the allow-list in force. It is called for every new
	// connection and every plain HTTP request, so a backend that swaps
	// the list (an atomic.Pointer[List] behind this func) changes what the
	// next connection may reach. nil, or a nil result, admits nothing.
	Policy func() *List
	// OnEvent, if set, receives every attempt's audit record: refusals at
	// once, admitted attempts when they end. It is called from the
	// connection's goroutine, which it holds up (and with it the
	// connection's end) while it runs: it should not block.
	OnEvent func(Event)
	// InFlight, if set, counts the client connections being handled, so
	// that the caller can wait for what a command tried to be reported
	// (see InFlight.Wait).
	InFlight *InFlight
}

// ErrClosed is returned by Serve once the Proxy is closed.
var ErrClosed = errors.New("netproxy: proxy closed")

// Proxy is a filtering HTTP and SOCKS5 proxy. One Proxy serves any number
// of sessions, each on listeners of its own.
type Proxy struct {
	cfg    Config
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	wg        sync.WaitGroup // one per running Serve
}

// New returns a Proxy; it serves nothing until Serve is called.
func New(cfg Config) *Proxy {
	ctx, cancel := context.WithCancel(context.Background())
	return &Proxy{cfg: cfg.withDefaults(), ctx: ctx, cancel: cancel, listeners: map[net.Listener]struct{}{}}
}

// Serve accepts connections on l for session s until l is closed or the
// Proxy is. It speaks HTTP (CONNECT and absolute-form requests) and
// SOCKS5 on the same listener, told apart by the first byte. When it
// returns, every connection it accepted, and every tunnel through them,
// is closed: a backend ends a session's network by closing its listener.
// It returns ErrClosed after Close, else the listener's Accept error
// (net.ErrClosed when the caller closed it).
func (p *Proxy) Serve(l net.Listener, s Session) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	p.listeners[l] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	ss := &session{proxy: p, s: s, conns: map[net.Conn]struct{}{}}
	ss.ctx, ss.cancel = context.WithCancel(p.ctx)
	err := ss.acceptLoop(l)

	p.mu.Lock()
	delete(p.listeners, l)
	closed := p.closed
	p.mu.Unlock()
	l.Close()
	ss.shutdown()
	if closed {
		return ErrClosed
	}
	return err
}

// Close stops every Serve, closes every connection and tunnel, and waits
// for all of the proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	p.cancel()
	for l := range p.listeners {
		l.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// session is one Serve call: its connections and their goroutines.
type session struct {
	proxy  *Proxy
	s      Session
	ctx    context.Context // cancelled when Serve ends
	cancel context.CancelFunc

	mu      sync.Mutex
	closing bool
	conns   map[net.Conn]struct{} // client and upstream connections
	wg      sync.WaitGroup        // one per connection goroutine
}

func (ss *session) acceptLoop(l net.Listener) error {
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			// EMFILE and friends are temporary: back off as net/http
			// does rather than spin, or end the session's network.
			var tmp interface{ Temporary() bool }
			if errors.As(err, &tmp) && tmp.Temporary() && ss.ctx.Err() == nil {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-ss.ctx.Done():
				}
			}
			return err
		}
		delay = 0
		if !ss.track(c) {
			c.Close()
			continue
		}
		ss.wg.Add(1)
		go ss.handle(c)
	}
}

// track registers c so that shutdown closes it; false if shutting down.
func (ss *session) track(c net.Conn) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closing {
		return false
	}
	ss.conns[c] = struct{}{}
	return true
}

func (ss *session) untrack(c net.Conn) {
	ss.mu.Lock()
	delete(ss.conns, c)
	ss.mu.Unlock()
}

// shutdown closes every connection and waits for their goroutines.
func (ss *session) shutdown() {
	ss.cancel()
	ss.mu.Lock()
	ss.closing = true
	for c := range ss.conns {
		c.Close()
	}
	ss.mu.Unlock()
	ss.wg.Wait()
}

func (ss *session) policy() *List {
	if ss.s.Policy == nil {
		return nil
	}
	return ss.s.Policy()
}

// emit reports an attempt. A refusal is emitted before the client gets
// its answer: the command may end as soon as it has it, and its summary
// must already hold the refusal.
func (ss *session) emit(e Event) {
	e.Session = ss.s.ID
	if !e.Start.IsZero() && e.Duration == 0 {
		e.Duration = time.Since(e.Start)
	}
	if ss.s.OnEvent != nil {
		ss.s.OnEvent(e)
	}
}

// handle sniffs the protocol of one client connection and serves it.
func (ss *session) handle(c net.Conn) {
	defer ss.wg.Done()
	if f := ss.s.InFlight; f != nil {
		// Deferred first, so it runs last: after the attempt's event.
		defer f.end(f.begin())
	}
	defer ss.untrack(c)
	defer c.Close()

	cfg := ss.proxy.cfg
	c.SetReadDeadline(time.Now().Add(cfg.HandshakeTimeout))
	lim := &capReader{r: c}
	// The reader asks for more only while the header is incomplete, so
	// reads beyond the limit mean a header larger than it.
	lim.limit(int64(cfg.MaxHeaderBytes))
	br := bufio.NewReaderSize(lim, 4096)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	cc := &clientConn{Conn: c, br: br, lim: lim}
	switch first[0] {
	case socks5Version:
		ss.serveSOCKS5(cc)
	case 0x04:
		// SOCKS4 has no way to say why it was refused beyond "rejected",
		// and every client that speaks it speaks SOCKS5 too.
		c.Write([]byte{0x00, 0x5b, 0, 0, 0, 0, 0, 0}) // request rejected
		ss.emit(Event{Protocol: ProtoSOCKS4, Reason: "SOCKS4 is not supported: use SOCKS5 or HTTP", Start: time.Now()})
	default:
		ss.serveHTTP(cc)
	}
}

// clientConn is an accepted connection with the reader its handshake was
// read through.
type clientConn struct {
	net.Conn
	br  *bufio.Reader
	lim *capReader
}

// endHandshake clears the handshake deadline and limit.
func (c *clientConn) endHandshake() {
	c.SetReadDeadline(time.Time{})
	c.lim.limit(-1)
}

// errTooLarge is a handshake that outgrew its bound.
var errTooLarge = errors.New("netproxy: request header too large")

// capReader fails reads past a limit, so a client cannot make the proxy
// buffer an unbounded header.
type capReader struct {
	r io.Reader
	n int64 // bytes left; <0 means no limit
}

func (c *capReader) limit(n int64) { c.n = n }

func (c *capReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return c.r.Read(p)
	}
	if c.n == 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}
