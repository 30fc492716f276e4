package netproxy

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestForwardPlainHTTP: an absolute-form request reaches the allowed
// server in origin form, with the URL's host as Host and without
// hop-by-hop headers or proxy credentials; the refused sibling never
// reaches its server.
func TestForwardPlainHTTP(t *testing.T) {
	allowed := newSite(t, "allowed.test", nil)
	other := newSite(t, "other.test", nil)
	fn := newFakeNet()
	fn.name("allowed.test", "203.0.113.1")
	fn.name("other.test", "203.0.113.2")
	fn.route(t, "203.0.113.1:"+allowed.port(), allowed.addrPort())
	fn.route(t, "203.0.113.2:"+other.port(), other.addrPort())
	tp := startProxy(t, fn, "allowed.test:"+allowed.port())

	body := "payload=1"
	req := "POST http://allowed.test:" + allowed.port() + "/p?q=1 HTTP/1.1\r\n" +
		"Host: other.test\r\n" + // the URL's host wins, as RFC 9112 says
		"Proxy-Authorization: Basic c2VjcmV0\r\n" +
		"Connection: keep-alive, X-Drop\r\n" +
		"X-Drop: 1\r\nX-Keep: 2\r\n" +
		"Content-Length: 9\r\n\r\n" + body
	resp := rawHTTP(t, tp.addr, req)
	if !strings.HasPrefix(resp, "HTTP/1.1 200") || !strings.HasSuffix(resp, "hello from allowed.test") {
		t.Fatalf("response %q", resp)
	}
	if !strings.Contains(resp, "Connection: close") {
		t.Errorf("the proxy did not announce that it closes: %q", resp)
	}
	r := allowed.last.Load()
	if allowed.hits.Load() != 1 || r == nil {
		t.Fatalf("allowed site hits %d", allowed.hits.Load())
	}
	if r.Host != "allowed.test:"+allowed.port() || r.URL.String() != "/p?q=1" {
		t.Errorf("upstream saw Host %q URL %q", r.Host, r.URL)
	}
	for _, h := range []string{"Proxy-Authorization", "X-Drop"} {
		if v := r.Header.Get(h); v != "" {
			t.Errorf("upstream saw %s: %s", h, v)
		}
	}
	if r.Header.Get("X-Keep") != "2" {
		t.Errorf("end-to-end header lost: %v", r.Header)
	}
	e := tp.event(t)
	if !e.Allowed || e.Protocol != ProtoHTTP || e.BytesUp < int64(len(body)) || e.BytesDown < int64(len("hello from allowed.test")) {
		t.Errorf("event %+v", e)
	}

	resp = rawHTTP(t, tp.addr, "GET http://other.test:"+other.port()+"/ HTTP/1.1\r\nHost: other.test\r\n\r\n")
	if !strings.HasPrefix(resp, "HTTP/1.1 403") || !strings.Contains(resp, "not on the allow-list") {
		t.Errorf("refused response %q", resp)
	}
	if other.hits.Load() != 0 {
		t.Errorf("other.test reached %d times", other.hits.Load())
	}
	if e := tp.event(t); e.Allowed || e.Host != "other.test" {
		t.Errorf("event %+v", e)
	}

	// A Host header naming an allowed host does not admit another URL.
	tp.setList(t, "other.test:*")
	resp = rawHTTP(t, tp.addr, "GET http://allowed.test:"+allowed.port()+"/ HTTP/1.1\r\nHost: other.test\r\n\r\n")
	if !strings.HasPrefix(resp, "HTTP/1.1 403") || allowed.hits.Load() != 1 {
		t.Errorf("Host header smuggling: %q, hits %d", resp, allowed.hits.Load())
	}
	tp.event(t)
}

func TestForwardGoClient(t *testing.T) {
	s := newSite(t, "allowed.test", nil)
	fn := newFakeNet()
	fn.name("allowed.test", "203.0.113.1")
	fn.route(t, "203.0.113.1:"+s.port(), s.addrPort())
	tp := startProxy(t, fn, "allowed.test:"+s.port())
	c := tp.httpClient(t)
	for i := range 3 {
		status, body, err := get(t, c, "http://allowed.test:"+s.port()+"/")
		if status != 200 || body != "hello from allowed.test" {
			t.Fatalf("request %d: %d %q %v", i, status, body, err)
		}
		tp.event(t)
	}
	// Each request was judged on its own: narrow, and the next one fails.
	tp.setList(t)
	if status, _, _ := get(t, c, "http://allowed.test:"+s.port()+"/"); status != http.StatusForbidden {
		t.Errorf("after narrowing: %d", status)
	}
	if n := s.hits.Load(); n != 3 {
		t.Errorf("hits %d, want 3", n)
	}
	tp.event(t)
}

func TestBadRequests(t *testing.T) {
	tp := startProxyConfig(t, Config{Resolver: newFakeNet(), Dialer: newFakeNet(), MaxHeaderBytes: 1024}, "allowed.test:*")
	for _, c := range []struct{ req, status string }{
		{"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "400"},                           // origin form: not a proxy request
		{"GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "400"},       // TLS must use CONNECT
		{"CONNECT allowed.test HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "400"},            // no port
		{"CONNECT allowed.test:0 HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "400"},          // port 0
		{"CONNECT allowed.test:99999 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},                 // port out of range
		{"GET http://allowed.test:99999/ HTTP/1.1\r\nHost: x\r\n\r\n", "400"},             // port out of range
		{"NOT HTTP\r\n\r\n", "400"},                                                       // garbage
		{"GET http://a/ HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", "431"}, // header too large
		{"CONNECT bad_host!:443 HTTP/1.1\r\nHost: x\r\n\r\n", "403"},                      // not a host name
	} {
		resp := rawHTTP(t, tp.addr, c.req)
		if !strings.HasPrefix(resp, "HTTP/1.1 "+c.status) {
			t.Errorf("%.60q: %.80q, want %s", c.req, resp, c.status)
		}
		if e := tp.event(t); e.Allowed {
			t.Errorf("%.60q audited as allowed", c.req)
		}
	}
}

// TestHandshakeTimeout: a client that never finishes its header is
// dropped after HandshakeTimeout, for HTTP and SOCKS5 alike.
func TestHandshakeTimeout(t *testing.T) {
	tp := startProxyConfig(t, Config{Resolver: newFakeNet(), Dialer: newFakeNet(), HandshakeTimeout: 100 * time.Millisecond})
	for _, partial := range []string{"CONNECT allowed.test:443 HTTP/1.1\r\nHost:", "\x05\x01\x00\x05\x01"} {
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, partial)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.ReadAll(c)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q: connection kept %v", partial, d)
		}
		c.Close()
	}
}
