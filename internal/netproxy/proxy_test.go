package netproxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// world is a fake internet: each name resolves to a public test address
// (TEST-NET-3) that the dialer routes to a loopback server of its own.
type world struct {
	fn    *fakeNet
	sites map[string]*site
}

// newWorld starts one TLS site per name. Site i answers at 203.0.113.(i+1)
// on the port its loopback listener has.
func newWorld(t *testing.T, names ...string) *world {
	t.Helper()
	w := &world{fn: newFakeNet(), sites: map[string]*site{}}
	for i, n := range names {
		s := newSite(t, n, &getPKI(t).leaf)
		ip := fmt.Sprintf("203.0.113.%d", i+1)
		w.fn.name(n, ip)
		w.fn.route(t, ip+":"+s.port(), s.addrPort())
		w.sites[n] = s
	}
	return w
}

func (w *world) url(name string) string {
	return "https://" + name + ":" + w.sites[name].port() + "/"
}

func (w *world) entry(name string) string { return name + ":" + w.sites[name].port() }

func TestConnectAllowedByNameAndUnlistedRefused(t *testing.T) {
	w := newWorld(t, "allowed.test", "other.test")
	tp := startProxy(t, w.fn, w.entry("allowed.test"))
	c := tp.httpClient(t)

	status, body, err := get(t, c, w.url("allowed.test"))
	if err != nil || status != 200 || body != "hello from allowed.test" {
		t.Fatalf("allowed: %d %q %v", status, body, err)
	}
	if n := w.sites["allowed.test"].hits.Load(); n != 1 {
		t.Errorf("allowed site hits = %d, want 1", n)
	}
	e := tp.event(t)
	if !e.Allowed || e.Host != "allowed.test" || e.Protocol != ProtoHTTPConnect || e.Addr.String() != "203.0.113.1" || e.Session != "s1" {
		t.Errorf("allowed event = %+v", e)
	}

	_, _, err = get(t, c, w.url("other.test"))
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("unlisted host: err = %v, want a 403 from the proxy", err)
	}
	if n := w.sites["other.test"].hits.Load() + w.sites["other.test"].hello.Load(); n != 0 {
		t.Errorf("unlisted site was reached %d times", n)
	}
	e = tp.event(t)
	if e.Allowed || e.Host != "other.test" || !strings.Contains(e.Reason, "not on the allow-list") {
		t.Errorf("refused event = %+v", e)
	}
	// Refused before resolution: nothing to resolve for a host not listed.
	if slices.Contains(w.fn.looked, "other.test") || slices.ContainsFunc(w.fn.dialed(), func(s string) bool { return strings.HasPrefix(s, "203.0.113.2:") }) {
		t.Errorf("unlisted host was resolved or dialed: looked %v dialed %v", w.fn.looked, w.fn.dialed())
	}
}

func TestConnectRefusalBody(t *testing.T) {
	w := newWorld(t, "allowed.test")
	tp := startProxy(t, w.fn)
	_, status, body := tp.connect(t, "allowed.test:443")
	if status != http.StatusForbidden || !strings.Contains(body, "allowed.test:443 is not on the allow-list") {
		t.Errorf("status %d body %q", status, body)
	}
}

func TestWildcardSubdomainsOnly(t *testing.T) {
	w := newWorld(t, "a.example.test", "example.test", "badexample.test")
	port := w.sites["a.example.test"].port()
	// One wildcard entry with a's port; give the other sites the same
	// port in the fake world so only the name decides.
	w.fn.route(t, "203.0.113.2:"+port, w.sites["example.test"].addrPort())
	w.fn.route(t, "203.0.113.3:"+port, w.sites["badexample.test"].addrPort())
	tp := startProxy(t, w.fn, "*.example.test:"+port)
	c := tp.httpClient(t)

	status, body, err := get(t, c, "https://a.example.test:"+port+"/")
	if err != nil || status != 200 || body != "hello from a.example.test" {
		t.Fatalf("a.example.test: %d %q %v", status, body, err)
	}
	if !tp.event(t).Allowed {
		t.Error("a.example.test not audited as allowed")
	}
	for _, name := range []string{"example.test", "badexample.test"} {
		if _, _, err := get(t, c, "https://"+name+":"+port+"/"); err == nil {
			t.Errorf("%s was admitted by *.example.test", name)
		}
		if n := w.sites[name].hits.Load() + w.sites[name].hello.Load(); n != 0 {
			t.Errorf("%s reached %d times", name, n)
		}
		if e := tp.event(t); e.Allowed || e.Host != name {
			t.Errorf("%s event = %+v", name, e)
		}
	}
}

// TestGuardRefusesBeforeDialing maps allowed names to special-use
// addresses. The dialer records what it is asked and never dials, so the
// test proves the guard refused before the dialer was asked.
func TestGuardRefusesBeforeDialing(t *testing.T) {
	targets := map[string]string{
		"metadata.test":  "169.254.169.254",
		"private.test":   "10.0.0.1",
		"private6.test":  "fd00::1",
		"loop.test":      "127.0.0.1",
		"loop6.test":     "::1",
		"link6.test":     "fe80::1",
		"mapped.test":    "::ffff:10.0.0.1",
		"nat64.test":     "64:ff9b::a9fe:a9fe",
		"cgnat.test":     "100.64.0.1",
		"zero.test":      "0.0.0.0",
		"multicast.test": "224.0.0.1",
	}
	fn := newFakeNet()
	var entries []string
	for name, addr := range targets {
		fn.name(name, addr)
		entries = append(entries, name+":*")
	}
	tp := startProxy(t, fn, entries...)
	for name, addr := range targets {
		// HTTP CONNECT
		_, status, body := tp.connect(t, name+":443")
		if status != http.StatusForbidden || !strings.Contains(body, "no address entry names it") {
			t.Errorf("CONNECT %s (%s): %d %q", name, addr, status, body)
		}
		e := tp.event(t)
		if e.Allowed || e.Addr != netip.MustParseAddr(addr) {
			t.Errorf("CONNECT %s event = %+v", name, e)
		}
		// SOCKS5
		if code := socks5Connect(t, tp.addr, name, 443); code != socks5NotAllowed {
			t.Errorf("SOCKS5 %s: reply %d, want %d", name, code, socks5NotAllowed)
		}
		tp.event(t)
		// Plain HTTP
		resp := rawHTTP(t, tp.addr, "GET http://"+name+"/latest/meta-data/ HTTP/1.1\r\nHost: "+name+"\r\n\r\n")
		if !strings.HasPrefix(resp, "HTTP/1.1 403") {
			t.Errorf("GET http://%s/: %q", name, resp)
		}
		tp.event(t)
	}
	if d := fn.dialed(); len(d) != 0 {
		t.Fatalf("the dialer was asked for guarded addresses: %v", d)
	}

	// Siblings: once the list names the address, the guard admits it and
	// the dialer is asked for exactly that address (it refuses to dial).
	tp.setList(t, "metadata.test", "169.254.169.254:80", "private.test:*", "10.0.0.0/8:*", "private6.test:*", "[fd00::/8]:*", "mapped.test:*", "nat64.test:*", "169.254.0.0/16:*")
	for _, target := range []string{"metadata.test:80", "private.test:443", "private6.test:443", "mapped.test:443", "nat64.test:443"} {
		_, status, _ := tp.connect(t, target)
		if status != http.StatusBadGateway {
			t.Errorf("named %s: status %d, want 502 from the recording dialer", target, status)
		}
		if e := tp.event(t); !e.Allowed {
			t.Errorf("named %s: event %+v", target, e)
		}
	}
	want := []string{"169.254.169.254:80", "10.0.0.1:443", "[fd00::1]:443", "10.0.0.1:443", "[64:ff9b::a9fe:a9fe]:443"}
	if d := fn.dialed(); !slices.Equal(d, want) {
		t.Errorf("dialer asked for %v, want %v", d, want)
	}
}

// TestGuardNamedLoopbackReached resolves a name to a real loopback
// server: refused while 127.0.0.1 is unnamed, reached once it is.
func TestGuardNamedLoopbackReached(t *testing.T) {
	s := newSite(t, "internal.test", nil)
	fn := newFakeNet()
	fn.name("internal.test", "127.0.0.1")
	fn.route(t, s.addrPort(), s.addrPort())
	tp := startProxy(t, fn, "internal.test:"+s.port())
	u := "http://internal.test:" + s.port() + "/"
	c := tp.httpClient(t)
	status, _, _ := get(t, c, u)
	if status != http.StatusForbidden || s.hits.Load() != 0 {
		t.Fatalf("unnamed loopback: status %d, hits %d", status, s.hits.Load())
	}
	tp.event(t)
	tp.setList(t, "internal.test:"+s.port(), "127.0.0.1:"+s.port())
	status, body, err := get(t, c, u)
	if status != 200 || body != "hello from internal.test" || s.hits.Load() != 1 {
		t.Fatalf("named loopback: %d %q %v hits %d", status, body, err, s.hits.Load())
	}
}

// TestGuardSkipsSpecialAddresses: a name resolving to a private and a
// public address reaches only the public one.
func TestGuardSkipsSpecialAddresses(t *testing.T) {
	s := newSite(t, "mixed.test", nil)
	fn := newFakeNet()
	fn.name("mixed.test", "10.0.0.1", "203.0.113.9")
	fn.route(t, "203.0.113.9:"+s.port(), s.addrPort())
	tp := startProxy(t, fn, "mixed.test:*")
	status, body, err := get(t, tp.httpClient(t), "http://mixed.test:"+s.port()+"/")
	if status != 200 || body != "hello from mixed.test" {
		t.Fatalf("%d %q %v", status, body, err)
	}
	if d := fn.dialed(); !slices.Equal(d, []string{"203.0.113.9:" + s.port()}) {
		t.Errorf("dialer asked for %v", d)
	}
	if e := tp.event(t); !e.Allowed || e.Addr.String() != "203.0.113.9" {
		t.Errorf("event %+v", e)
	}
}

func TestIPLiteralNeedsAddressEntry(t *testing.T) {
	w := newWorld(t, "allowed.test")
	port := w.sites["allowed.test"].port()
	tp := startProxy(t, w.fn, w.entry("allowed.test"))
	_, status, _ := tp.connect(t, "203.0.113.1:"+port)
	if status != http.StatusForbidden {
		t.Errorf("IP literal of an allowed name: status %d, want 403", status)
	}
	tp.event(t)
	tp.setList(t, "203.0.113.0/24:"+port)
	conn, status, _ := tp.connect(t, "203.0.113.1:"+port)
	if status != http.StatusOK {
		t.Fatalf("IP literal named by CIDR: status %d", status)
	}
	// No SNI (an IP) is fine: talk TLS to it.
	tc := tls.Client(conn, &tls.Config{RootCAs: getPKI(t).pool, ServerName: "127.0.0.1"})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS through a tunnel to an IP literal: %v", err)
	}
	tc.Close()
	if n := w.sites["allowed.test"].hello.Load(); n != 1 {
		t.Errorf("server saw %d ClientHellos, want 1", n)
	}
}

// TestSNIMustMatchConnectHost: a tunnel to allowed.test carrying a
// ClientHello for other.test is closed before the ClientHello reaches the
// server; the sibling with the right name is served.
func TestSNIMustMatchConnectHost(t *testing.T) {
	w := newWorld(t, "allowed.test")
	s := w.sites["allowed.test"]
	tp := startProxy(t, w.fn, w.entry("allowed.test"))
	target := w.entry("allowed.test")

	for _, sni := range []string{"other.test", "allowed.test.evil", "a.allowed.test"} {
		conn, status, _ := tp.connect(t, target)
		if status != 200 {
			t.Fatalf("CONNECT: %d", status)
		}
		tc := tls.Client(conn, &tls.Config{RootCAs: getPKI(t).pool, ServerName: sni, InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err == nil {
			t.Errorf("SNI %s: handshake through a tunnel to %s succeeded", sni, target)
		}
		e := tp.event(t)
		if e.Allowed || !strings.Contains(e.Reason, "differs") || e.BytesUp != 0 {
			t.Errorf("SNI %s: event %+v", sni, e)
		}
	}
	if n := s.hello.Load(); n != 0 {
		t.Errorf("server received %d ClientHellos with a foreign name", n)
	}

	for _, sni := range []string{"allowed.test", "ALLOWED.test."} {
		conn, _, _ := tp.connect(t, target)
		tc := tls.Client(conn, &tls.Config{RootCAs: getPKI(t).pool, ServerName: sni})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil && sni == "allowed.test" {
			t.Fatalf("SNI %s: %v", sni, err)
		}
		tc.Close()
		if e := tp.event(t); !e.Allowed || e.BytesUp == 0 || e.BytesDown == 0 {
			t.Errorf("SNI %s: event %+v", sni, e)
		}
	}
	if n := s.hello.Load(); n != 2 {
		t.Errorf("server received %d ClientHellos, want 2", n)
	}
}

// TestNarrowingKeepsOpenTunnels: after the list drops a host, a new
// CONNECT is refused while the tunnel opened before keeps working; ending
// the session's Serve cuts it.
func TestNarrowingKeepsOpenTunnels(t *testing.T) {
	echo := startEcho(t)
	fn := newFakeNet()
	fn.name("echo.test", "203.0.113.50")
	fn.route(t, "203.0.113.50:7", echo)
	tp := startProxy(t, fn, "echo.test:7")

	old, status, _ := tp.connect(t, "echo.test:7")
	if status != 200 {
		t.Fatal(status)
	}
	roundTrip(t, old, "before")

	tp.setList(t, "other.test")
	_, status, _ = tp.connect(t, "echo.test:7")
	if status != http.StatusForbidden {
		t.Errorf("after narrowing: status %d, want 403", status)
	}
	if e := tp.event(t); e.Allowed {
		t.Errorf("after narrowing: event %+v", e)
	}
	roundTrip(t, old, "after narrowing")
	if n := len(fn.dialed()); n != 1 {
		t.Errorf("dialer asked %d times, want 1", n)
	}

	tp.ln.Close()
	if err := <-tp.served; err == nil {
		t.Error("Serve returned nil after its listener closed")
	}
	old.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := old.Read(make([]byte, 1)); err == nil {
		t.Error("tunnel survived the end of its session's Serve")
	}
	if e := tp.event(t); !e.Allowed || e.BytesUp != int64(len("before")+len("after narrowing")) {
		t.Errorf("tunnel event %+v", e)
	}
}

// TestAuditByteCounts checks one event per tunnel with exact byte counts
// each way.
func TestAuditByteCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const up, down = 12345, 54321
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.CopyN(io.Discard, c, up)
		c.Write(make([]byte, down))
	}()
	fn := newFakeNet()
	fn.name("bytes.test", "203.0.113.60")
	fn.route(t, "203.0.113.60:9", ln.Addr().String())
	tp := startProxy(t, fn, "bytes.test:9")

	for _, proto := range []Protocol{ProtoHTTPConnect} {
		conn, status, _ := tp.connect(t, "bytes.test:9")
		if status != 200 {
			t.Fatal(status)
		}
		conn.Write(make([]byte, up))
		n, _ := io.Copy(io.Discard, conn)
		conn.Close()
		if n != down {
			t.Errorf("received %d bytes, want %d", n, down)
		}
		e := tp.event(t)
		if !e.Allowed || e.Protocol != proto || e.BytesUp != up || e.BytesDown != down || e.Duration <= 0 || e.Port != 9 {
			t.Errorf("event %+v", e)
		}
		if !strings.Contains(e.Reason, "bytes.test:9") {
			t.Errorf("reason %q does not name the entry", e.Reason)
		}
	}
	tp.noEvent(t)
}

func TestCounter(t *testing.T) {
	var c Counter
	c.Record(Event{Allowed: true, BytesUp: 3, BytesDown: 5})
	c.Record(Event{Host: "x.test", Reason: "no"})
	s := c.Take()
	if s.Allowed != 1 || s.Refused != 1 || s.BytesUp != 3 || s.BytesDown != 5 || len(s.Refusals) != 1 || s.Refusals[0].Host != "x.test" {
		t.Errorf("summary %+v", s)
	}
	if s := c.Snapshot(); s.Allowed != 0 || s.Refused != 0 {
		t.Errorf("Take did not reset: %+v", s)
	}
	for range MaxRefusals + 10 {
		c.Record(Event{})
	}
	if s := c.Snapshot(); s.Refused != MaxRefusals+10 || len(s.Refusals) != MaxRefusals {
		t.Errorf("bounded refusals: %d kept of %d", len(s.Refusals), s.Refused)
	}
}

func startEcho(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo of %q: %q %v", msg, got, err)
	}
}

// rawHTTP sends req on a new connection to the proxy and returns the
// whole answer.
func rawHTTP(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

// TestInternationalNames: the list, the CONNECT host and the resolver
// all see one ASCII form.
func TestInternationalNames(t *testing.T) {
	echo := startEcho(t)
	fn := newFakeNet()
	fn.name("xn--bcher-kva.test", "203.0.113.70")
	fn.route(t, "203.0.113.70:7", echo)
	tp := startProxy(t, fn, "bücher.test:7")
	for _, host := range []string{"XN--BCHER-KVA.test.", "BÜCHER.test"} {
		c, status, _ := tp.connect(t, host+":7")
		if status != 200 {
			t.Fatalf("CONNECT %s: %d", host, status)
		}
		roundTrip(t, c, "idn")
		c.Close()
		if e := tp.event(t); !e.Allowed || e.Host != "xn--bcher-kva.test" {
			t.Errorf("event %+v", e)
		}
	}
	for _, name := range fn.looked {
		if name != "xn--bcher-kva.test" {
			t.Errorf("resolver asked for %q", name)
		}
	}
}

// TestPipelinedClientHello: a client that sends its ClientHello right
// behind the CONNECT request, before the answer, is checked all the same.
func TestPipelinedClientHello(t *testing.T) {
	w := newWorld(t, "allowed.test")
	s := w.sites["allowed.test"]
	tp := startProxy(t, w.fn, w.entry("allowed.test"))
	for _, sni := range []string{"other.test", "allowed.test"} {
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		target := w.entry("allowed.test")
		req := append([]byte("CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"), captureClientHello(t, sni)...)
		c.Write(req)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("SNI %s: %v %v", sni, resp, err)
		}
		// The matching ClientHello gets a ServerHello (a handshake
		// record); the other one gets the connection closed.
		first, err := br.ReadByte()
		if sni == "allowed.test" && (err != nil || first != 0x16) {
			t.Errorf("SNI %s: first byte %#x, %v; want a ServerHello", sni, first, err)
		}
		if sni != "allowed.test" && err == nil {
			t.Errorf("SNI %s: read %#x; want the connection closed", sni, first)
		}
		c.Close()
		if e := tp.event(t); e.Allowed != (sni == "allowed.test") {
			t.Errorf("SNI %s: event %+v", sni, e)
		}
	}
	if n := s.hello.Load(); n != 1 {
		t.Errorf("server saw %d ClientHellos, want 1 (the matching one)", n)
	}
}

// TestServerSpeaksFirst: a tunnel relays the upstream's greeting before
// the client sends anything (SSH, SMTP and the like).
func TestServerSpeaksFirst(t *testing.T) {
	ln := mustListen(t)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "220 banner\r\n")
		io.Copy(c, c)
		c.Close()
	}()
	fn := newFakeNet()
	fn.name("smtp.test", "203.0.113.80")
	fn.route(t, "203.0.113.80:25", ln.Addr().String())
	tp := startProxy(t, fn, "smtp.test:25")
	c, status, _ := tp.connect(t, "smtp.test:25")
	if status != 200 {
		t.Fatal(status)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	banner := make([]byte, len("220 banner\r\n"))
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "220 banner\r\n" {
		t.Fatalf("banner %q %v", banner, err)
	}
	roundTrip(t, c, "EHLO x\r\n")
}
