package netproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// relayCopy moves a tunnel's bytes. io.Copy between two *net.TCPConn
// splices on Linux (no copy through user space); elsewhere it copies
// through a buffer. The benchmarks swap it to compare.
var relayCopy = io.Copy

// closeWriter is a connection that can half-close (TCP and unix sockets).
type closeWriter interface{ CloseWrite() error }

// relay copies between the client and the upstream of an admitted tunnel
// until both directions end, then completes and emits a's event. host is
// the name the client asked for, which a TLS ClientHello's server name
// must match.
//
// Upstream-to-client starts at once, so protocols where the server speaks
// first work. Client-to-upstream first looks at the client's first bytes:
// when they start a TLS handshake, the ClientHello is read whole (bounded
// in size and time) and its server name checked before a byte of it is
// forwarded.
func (ss *session) relay(c *clientConn, a *attempt, host string) {
	up := a.upstream
	defer ss.closeUpstream(a)

	var down int64
	downDone := make(chan error, 1)
	go func() {
		var err error
		down, err = relayCopy(c.Conn, up)
		if err == nil {
			// The upstream finished sending: pass the half-close on so the
			// client sees EOF while it may still be sending.
			if cw, ok := c.Conn.(closeWriter); ok {
				err = cw.CloseWrite()
			} else {
				err = errors.New("no half-close")
			}
		}
		if err != nil {
			c.Close()
			up.Close()
		}
		downDone <- err
	}()

	upBytes, refusal := ss.pumpUp(c, up, host)
	if refusal != "" {
		c.Close()
		up.Close()
	}
	<-downDone
	a.event.BytesUp, a.event.BytesDown = upBytes, down
	if refusal != "" {
		a.event.Allowed, a.event.Reason = false, refusal
	}
	ss.emit(a.event)
}

// pumpUp copies client to upstream, after checking a TLS ClientHello if
// that is what the client sends first. It returns the bytes forwarded
// and, if the tunnel was refused for its server name, why.
func (ss *session) pumpUp(c *clientConn, up net.Conn, host string) (n int64, refusal string) {
	fail := func() { c.Close(); up.Close() }
	first, err := c.br.Peek(1)
	if err != nil {
		// The client closed (or failed) before sending anything.
		if cw, ok := up.(closeWriter); err == io.EOF && ok {
			cw.CloseWrite()
		} else {
			fail()
		}
		return 0, ""
	}
	if first[0] == tlsRecordHandshake {
		c.SetReadDeadline(time.Now().Add(ss.proxy.cfg.HandshakeTimeout))
		hello, sni, err := readClientHello(c.br)
		c.SetReadDeadline(time.Time{})
		if err != nil {
			return 0, fmt.Sprintf("TLS ClientHello unreadable: %v", err)
		}
		if sni != "" && !sameHost(sni, host) {
			return 0, fmt.Sprintf("TLS server name %q differs from the requested host %q", sni, host)
		}
		w, err := up.Write(hello)
		n += int64(w)
		if err != nil {
			fail()
			return n, ""
		}
	}
	// What the handshake reader buffered goes first; then the raw
	// connection, so that io.Copy can splice TCP to TCP.
	if k := c.br.Buffered(); k > 0 {
		b, _ := c.br.Peek(k)
		w, err := up.Write(b)
		n += int64(w)
		if err != nil {
			fail()
			return n, ""
		}
		c.br.Discard(k)
	}
	w, err := relayCopy(up, c.Conn)
	n += w
	if err == nil {
		if cw, ok := up.(closeWriter); ok {
			err = cw.CloseWrite()
		} else {
			err = errors.New("no half-close")
		}
	}
	if err != nil {
		fail()
	}
	return n, ""
}

// sameHost compares two host names as the list does.
func sameHost(a, b string) bool {
	na, err := NormalizeHost(a)
	if err != nil {
		return false
	}
	nb, err := NormalizeHost(b)
	return err == nil && na == nb
}
