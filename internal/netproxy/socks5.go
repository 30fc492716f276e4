package netproxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// SOCKS5 (RFC 1928) constants.
const (
	socks5Version      = 0x05
	socks5NoAuth       = 0x00
	socks5NoAcceptable = 0xff
	socks5CmdConnect   = 0x01
	socks5AtypIPv4     = 0x01
	socks5AtypDomain   = 0x03
	socks5AtypIPv6     = 0x04

	socks5Succeeded          = 0x00
	socks5GeneralFailure     = 0x01
	socks5NotAllowed         = 0x02
	socks5HostUnreachable    = 0x04
	socks5ConnRefused        = 0x05
	socks5CmdNotSupported    = 0x07
	socks5AtypNotSupported   = 0x08
	socks5MaxGreetingMethods = 255
)

// serveSOCKS5 serves one SOCKS5 CONNECT without authentication; BIND and
// UDP ASSOCIATE are refused.
func (ss *session) serveSOCKS5(c *clientConn) {
	start := time.Now()
	refuse := func(code byte, host string, port int, reason string) {
		ss.emit(Event{Protocol: ProtoSOCKS5, Host: host, Port: port, Reason: reason, Start: start})
		writeSOCKS5Reply(c, code)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c.br, methods); err != nil {
		return
	}
	noAuth := false
	for _, m := range methods {
		noAuth = noAuth || m == socks5NoAuth
	}
	if !noAuth {
		c.Write([]byte{socks5Version, socks5NoAcceptable})
		ss.emit(Event{Protocol: ProtoSOCKS5, Reason: "client offered no SOCKS5 method without authentication", Start: start})
		return
	}
	if _, err := c.Write([]byte{socks5Version, socks5NoAuth}); err != nil {
		return
	}

	var req [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(c.br, req[:]); err != nil {
		return
	}
	if req[0] != socks5Version {
		refuse(socks5GeneralFailure, "", 0, fmt.Sprintf("SOCKS5 request with version %d", req[0]))
		return
	}
	var host string
	switch req[3] {
	case socks5AtypIPv4:
		var b [4]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return
		}
		host = netip.AddrFrom4(b).String()
	case socks5AtypIPv6:
		var b [16]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return
		}
		host = netip.AddrFrom16(b).Unmap().String()
	case socks5AtypDomain:
		n, err := c.br.ReadByte()
		if err != nil {
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(c.br, b); err != nil {
			return
		}
		host = string(b)
	default:
		refuse(socks5AtypNotSupported, "", 0, fmt.Sprintf("SOCKS5 address type %d", req[3]))
		return
	}
	var pb [2]byte
	if _, err := io.ReadFull(c.br, pb[:]); err != nil {
		return
	}
	port := int(binary.BigEndian.Uint16(pb[:]))
	if req[1] != socks5CmdConnect {
		refuse(socks5CmdNotSupported, host, port, fmt.Sprintf("SOCKS5 command %d: only CONNECT is supported", req[1]))
		return
	}
	if port == 0 {
		refuse(socks5NotAllowed, host, port, "port 0")
		return
	}
	c.endHandshake()

	a := ss.open(ProtoSOCKS5, host, port)
	a.event.Start = start
	if a.outcome != admitted {
		ss.emit(a.event)
		writeSOCKS5Reply(c, socks5Code(a.outcome))
		return
	}
	if err := writeSOCKS5Reply(c, socks5Succeeded); err != nil {
		ss.closeUpstream(a)
		a.event.Reason = "client went away: " + err.Error()
		ss.emit(a.event)
		return
	}
	ss.relay(c, a, a.event.Host)
}

func socks5Code(o outcome) byte {
	switch o {
	case notOnList, guarded:
		return socks5NotAllowed
	case unresolvable:
		return socks5HostUnreachable
	case unreachable:
		return socks5ConnRefused
	}
	return socks5GeneralFailure
}

// writeSOCKS5Reply answers a request. The bound address is always
// 0.0.0.0:0: the upstream socket's local address is the host's, which
// the session has no business learning.
func writeSOCKS5Reply(w net.Conn, code byte) error {
	_, err := w.Write([]byte{socks5Version, code, 0x00, socks5AtypIPv4, 0, 0, 0, 0, 0, 0})
	return err
}
