package netproxy

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	xproxy "golang.org/x/net/proxy"
)

// socks5Request performs a no-auth SOCKS5 handshake and sends one request
// for host (a name, or an IP literal sent as an address) with command
// cmd. It returns the connection and the reply code.
func socks5Request(t *testing.T, proxyAddr string, cmd byte, host string, port int) (net.Conn, byte) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{5, 1, 0})
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{5, 0} {
		t.Fatalf("method selection %v %v", sel, err)
	}
	req := []byte{5, cmd, 0}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		req = append(append(req, 1), a.AsSlice()...)
	} else if err == nil {
		req = append(append(req, 4), a.AsSlice()...)
	} else {
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	c.Write(req)
	var rep [10]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		t.Fatalf("SOCKS5 reply: %v", err)
	}
	c.SetDeadline(time.Time{})
	return c, rep[1]
}

func socks5Connect(t *testing.T, proxyAddr, host string, port int) byte {
	t.Helper()
	_, code := socks5Request(t, proxyAddr, socks5CmdConnect, host, port)
	return code
}

func TestSOCKS5(t *testing.T) {
	echo := startEcho(t)
	fn := newFakeNet()
	fn.name("echo.test", "203.0.113.50")
	fn.route(t, "203.0.113.50:7", echo)
	fn.route(t, "[2001:db8::50]:7", echo)
	tp := startProxy(t, fn, "echo.test:7", "[2001:db8::/32]:*", "198.51.100.0/24:*")

	// A real client library, with a domain name.
	d, err := xproxy.SOCKS5("tcp", tp.addr, nil, xproxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Dial("tcp", "echo.test:7")
	if err != nil {
		t.Fatalf("x/net/proxy SOCKS5 to echo.test: %v", err)
	}
	roundTrip(t, c, "via socks5")
	c.Close()
	if e := tp.event(t); !e.Allowed || e.Protocol != ProtoSOCKS5 || e.BytesUp != int64(len("via socks5")) {
		t.Errorf("event %+v", e)
	}

	// IPv6 address, named by a CIDR entry.
	c6, code := socks5Request(t, tp.addr, socks5CmdConnect, "2001:db8::50", 7)
	if code != socks5Succeeded {
		t.Fatalf("IPv6 CONNECT: reply %d", code)
	}
	roundTrip(t, c6, "v6")
	c6.Close()
	tp.event(t)

	// IPv4 address named but not routed: admitted, the dialer fails.
	if code := socks5Connect(t, tp.addr, "198.51.100.1", 7); code != socks5ConnRefused {
		t.Errorf("unroutable admitted IPv4: reply %d", code)
	}
	if e := tp.event(t); !e.Allowed || !strings.Contains(e.Reason, "dialing") {
		t.Errorf("event %+v", e)
	}

	before := len(fn.dialed())
	// Refusals: not listed (name and address), BIND, UDP ASSOCIATE.
	if code := socks5Connect(t, tp.addr, "other.test", 7); code != socks5NotAllowed {
		t.Errorf("unlisted name: reply %d", code)
	}
	if code := socks5Connect(t, tp.addr, "203.0.113.50", 7); code != socks5NotAllowed {
		t.Errorf("unlisted address: reply %d", code)
	}
	if code := socks5Connect(t, tp.addr, "echo.test", 8); code != socks5NotAllowed {
		t.Errorf("unlisted port: reply %d", code)
	}
	for _, cmd := range []byte{2, 3} {
		if _, code := socks5Request(t, tp.addr, cmd, "echo.test", 7); code != socks5CmdNotSupported {
			t.Errorf("command %d: reply %d", cmd, code)
		}
	}
	for range 5 {
		if e := tp.event(t); e.Allowed {
			t.Errorf("refusal audited as allowed: %+v", e)
		}
	}
	if after := len(fn.dialed()); after != before {
		t.Errorf("refused SOCKS5 requests reached the dialer: %v", fn.dialed()[before:])
	}
	_, err = xproxy.SOCKS5("tcp", tp.addr, nil, xproxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dial("tcp", "other.test:7"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("x/net/proxy to other.test: %v", err)
	}
	tp.event(t)
}

func TestSOCKS5AuthOnlyClient(t *testing.T) {
	tp := startProxy(t, newFakeNet(), "echo.test:7")
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{5, 1, 2}) // username/password only
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{5, 0xff} {
		t.Errorf("selection %v %v, want 5 255", sel, err)
	}
	if e := tp.event(t); e.Allowed || e.Protocol != ProtoSOCKS5 {
		t.Errorf("event %+v", e)
	}
}

// TestSOCKS5ServerNameChecked: the TLS server name check applies to
// SOCKS5 tunnels as to CONNECT ones.
func TestSOCKS5ServerNameChecked(t *testing.T) {
	w := newWorld(t, "allowed.test")
	s := w.sites["allowed.test"]
	tp := startProxy(t, w.fn, w.entry("allowed.test"))
	d, err := xproxy.SOCKS5("tcp", tp.addr, nil, xproxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	for _, sni := range []string{"other.test", "allowed.test"} {
		c, err := d.Dial("tcp", w.entry("allowed.test"))
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(c, &tls.Config{RootCAs: getPKI(t).pool, ServerName: sni, InsecureSkipVerify: sni != "allowed.test"})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		tc.Close()
		e := tp.event(t)
		if (err == nil) != (sni == "allowed.test") || e.Allowed != (sni == "allowed.test") {
			t.Errorf("SNI %s: handshake %v, event %+v", sni, err, e)
		}
	}
	if n := s.hello.Load(); n != 1 {
		t.Errorf("server saw %d ClientHellos, want 1", n)
	}
}

func TestSOCKS4Refused(t *testing.T) {
	tp := startProxy(t, newFakeNet(), "echo.test:7")
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{4, 1, 0, 7, 203, 0, 113, 50, 0})
	var rep [8]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil || rep[1] != 0x5b {
		t.Errorf("SOCKS4 reply %v %v, want rejected (0x5b)", rep, err)
	}
	if e := tp.event(t); e.Allowed || e.Protocol != ProtoSOCKS4 {
		t.Errorf("event %+v", e)
	}
}
