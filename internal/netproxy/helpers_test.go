package netproxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every test here sends packets only to 127.0.0.0/8 and ::1. Names are
// mapped by fakeNet: the resolver answers what a test says, and the
// dialer dials only the loopback servers a test routed an address to.
// Every other address it is asked for is recorded and refused without
// a packet being sent, so a broken guard shows up as a recorded address,
// never as a connection.

// fakeNet is an injected resolver and recording dialer.
type fakeNet struct {
	mu     sync.Mutex
	names  map[string][]netip.Addr
	routes map[string]string // "addr:port" asked for -> loopback "ip:port" dialed
	asked  []string          // every address the dialer was asked for, in order
	looked []string          // every name the resolver was asked for
}

func newFakeNet() *fakeNet {
	return &fakeNet{names: map[string][]netip.Addr{}, routes: map[string]string{}}
}

// name makes host resolve to addrs.
func (f *fakeNet) name(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range addrs {
		f.names[host] = append(f.names[host], netip.MustParseAddr(a))
	}
}

// route makes a dial of asked ("203.0.113.5:443") reach the loopback
// listener at target.
func (f *fakeNet) route(t testing.TB, asked, target string) {
	t.Helper()
	ap := netip.MustParseAddrPort(target)
	if !ap.Addr().IsLoopback() {
		t.Fatalf("test bug: route target %s is not loopback", target)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[asked] = target
}

func (f *fakeNet) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.looked = append(f.looked, host)
	if a, ok := f.names[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var errNotRouted = errors.New("fakeNet: address not routed; nothing was dialed")

func (f *fakeNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	f.asked = append(f.asked, addr)
	target, ok := f.routes[addr]
	f.mu.Unlock()
	if !ok {
		return nil, errNotRouted
	}
	if !netip.MustParseAddrPort(target).Addr().IsLoopback() {
		panic("fakeNet would dial a non-loopback address " + target)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

func (f *fakeNet) dialed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

// testProxy is a Proxy serving one session on a loopback listener.
type testProxy struct {
	*Proxy
	addr   string // "127.0.0.1:port"
	list   atomic.Pointer[List]
	events chan Event
	served chan error
	ln     net.Listener
}

func startProxy(t testing.TB, fn *fakeNet, entries ...string) *testProxy {
	t.Helper()
	return startProxyConfig(t, Config{Resolver: fn, Dialer: fn}, entries...)
}

func startProxyConfig(t testing.TB, cfg Config, entries ...string) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: New(cfg), addr: ln.Addr().String(), events: make(chan Event, 1024), served: make(chan error, 1), ln: ln}
	tp.setList(t, entries...)
	go func() {
		tp.served <- tp.Serve(ln, Session{ID: "s1", Policy: tp.list.Load, OnEvent: func(e Event) { tp.events <- e }})
	}()
	t.Cleanup(func() { tp.Close() })
	return tp
}

func (tp *testProxy) setList(t testing.TB, entries ...string) {
	t.Helper()
	l, err := ParseList(entries)
	if err != nil {
		t.Fatal(err)
	}
	tp.list.Store(l)
}

// event waits for the next audit event.
func (tp *testProxy) event(t testing.TB) Event {
	t.Helper()
	select {
	case e := <-tp.events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no audit event within 5s")
		return Event{}
	}
}

// noEvent checks that no further event arrives for a short while.
func (tp *testProxy) noEvent(t testing.TB) {
	t.Helper()
	select {
	case e := <-tp.events:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(50 * time.Millisecond):
	}
}

func (tp *testProxy) url() *url.URL { return &url.URL{Scheme: "http", Host: tp.addr} }

// site is a loopback HTTP(S) server that counts the requests it serves.
type site struct {
	*httptest.Server
	name  string
	hits  atomic.Int64
	hello atomic.Int64 // TLS ClientHellos received
	last  atomic.Pointer[http.Request]
}

func (s *site) addrPort() string { return s.Listener.Addr().String() }
func (s *site) port() string     { return s.addrPort()[strings.LastIndexByte(s.addrPort(), ':')+1:] }

func newSite(t testing.TB, name string, tlsCert *tls.Certificate) *site {
	t.Helper()
	s := &site{name: name}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.last.Store(r.Clone(context.Background()))
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "hello from %s", name)
	}))
	if tlsCert != nil {
		s.TLS = &tls.Config{
			Certificates: []tls.Certificate{*tlsCert},
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				s.hello.Add(1)
				return nil, nil
			},
		}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// testPKI is a CA and one leaf certificate for every test name.
type testPKI struct {
	pool   *x509.CertPool
	caFile string
	leaf   tls.Certificate
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
)

func getPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func makePKI() (*testPKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netproxy test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "allowed.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames:    []string{"allowed.test", "other.test", "example.test", "*.example.test", "badexample.test", "internal.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "netproxy-pki")
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{pool: pool, caFile: caFile, leaf: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}, nil
}

// httpClient goes through the proxy and trusts the test CA.
func (tp *testProxy) httpClient(t testing.TB) *http.Client {
	tr := &http.Transport{
		Proxy:             http.ProxyURL(tp.url()),
		TLSClientConfig:   &tls.Config{RootCAs: getPKI(t).pool},
		DisableKeepAlives: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get fetches u through the proxy and returns the status and body; a
// refused CONNECT surfaces as a transport error, returned as status 0.
func get(t testing.TB, c *http.Client, u string) (int, string, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// connect sends "CONNECT target" on a new connection to the proxy and
// returns the connection and the status line's code.
func (tp *testProxy) connect(t testing.TB, target string) (net.Conn, int, string) {
	t.Helper()
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	// A 200 answer to CONNECT has no body: the tunnel follows.
	var body []byte
	if resp.StatusCode != http.StatusOK {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
	}
	c.SetReadDeadline(time.Time{})
	return &bufConn{c, br}, resp.StatusCode, string(body)
}

// bufConn reads through the reader the response header was read with,
// so tunnel bytes it buffered are not lost.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// checkNoLeaks fails when goroutines or (on Linux) file descriptors
// outlive what the test started with.
func checkNoLeaks(t *testing.T) func() {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), countFDs()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, fd := runtime.NumGoroutine(), countFDs()
			if g <= g0 && fd <= fd0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Fatalf("leak: goroutines %d -> %d, sockets %d -> %d: %v\n%s", g0, g, fd0, fd, fdTargets(), buf[:n])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// countFDs counts open sockets. Pipes are left out: on Linux the runtime
// keeps a pool of pipes for splice(2), freed by the garbage collector.
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0 // not Linux: goroutines only
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

func fdTargets() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"="+l)
	}
	return out
}
