//go:build linux

package sandbox

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testResolver maps the test's names to loopback; any other name fails
// without a lookup, so no test query leaves this machine.
type testResolver map[string]string

func (r testResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := r[strings.TrimSuffix(strings.ToLower(host), ".")]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host (test resolver)", Name: host, IsNotFound: true}
}

// loopbackDialer dials only loopback addresses and records every address
// it was asked for: a broken guard shows up in the record, never on the
// wire.
type loopbackDialer struct {
	mu    sync.Mutex
	asked []string
}

func (d *loopbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("test dialer: %s is not a loopback address, not dialed", addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *loopbackDialer) record() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// countingServer is a loopback HTTP server that counts its hits.
func countingServer(t *testing.T, body string) (*httptest.Server, *atomic.Int32, int) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits, srv.Listener.Addr().(*net.TCPAddr).Port
}

// allowListBackend is a backend whose proxy resolves the test's names to
// loopback and dials nothing else, recording audit events.
func allowListBackend(t *testing.T) (*Local, *loopbackDialer, func() []NetworkEvent) {
	t.Helper()
	var mu sync.Mutex
	var events []NetworkEvent
	dialer := &loopbackDialer{}
	l, err := NewLocal(LocalConfig{
		RootDir:  reachableTempDir(t),
		Resolver: testResolver{"example.com": "127.0.0.1", "allowed.test": "127.0.0.1", "a.example.test": "127.0.0.1", "example.test": "127.0.0.1", "denied.test": "127.0.0.1", "metadata.test": "169.254.169.254", "private.test": "10.0.0.1"},
		Dialer:   dialer,
		OnNetworkEvent: func(e NetworkEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	requireConfinement(t, l)
	return l, dialer, func() []NetworkEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]NetworkEvent(nil), events...)
	}
}

// fetch is a command that fetches a URL with curl through the proxy
// variables and prints the body, or "FAILED <curl exit>".
func fetch(url string) ExecRequest {
	return sh(`curl -s -m 10 "$1" || echo "FAILED $?"`, url)
}

func TestAllowListThroughProxy(t *testing.T) {
	l, dialer, events := allowListBackend(t)
	_, hits, port := countingServer(t, "hello from the allowed server")
	allowed := fmt.Sprintf("allowed.test:%d", port)
	named := fmt.Sprintf("127.0.0.1:%d", port)
	if m := l.Capabilities().Enforcement.NetworkAllowList; !m.Enforced {
		// This host cannot enforce it: the contract is a refusal naming why.
		_, err := l.Provision(context.Background(), Spec{NetworkPolicy: AllowHosts(allowed, named)})
		exactlyOneKind(t, "allow-list on a host that cannot enforce it", err, ErrUnsupported)
		if err == nil || !strings.Contains(err.Error(), "allow-list") {
			t.Fatalf("refusal %v does not name the allow-list", err)
		}
		return
	}
	requireCommand(t, "curl")
	sess := provision(t, l, Spec{NetworkPolicy: AllowHosts(allowed, named, "*.example.test:*")})

	t.Run("allowed name reached", func(t *testing.T) {
		before := hits.Load()
		res := run(t, l, sess.ID, fetch(fmt.Sprintf("http://allowed.test:%d/", port)))
		if string(res.Stdout) != "hello from the allowed server" || hits.Load() != before+1 {
			t.Fatalf("allowed host: %q (hits %d -> %d)", res.Stdout, before, hits.Load())
		}
		if res.Network == nil || res.Network.Allowed < 1 {
			t.Errorf("network summary of the exec: %+v", res.Network)
		}
	})
	t.Run("unlisted name refused", func(t *testing.T) {
		before := hits.Load()
		res := run(t, l, sess.ID, fetch(fmt.Sprintf("http://denied.test:%d/", port)))
		if hits.Load() != before || strings.Contains(string(res.Stdout), "hello") {
			t.Fatalf("unlisted host reached: %q", res.Stdout)
		}
		if res.Network == nil || res.Network.Refused != 1 || res.Network.Refusals[0].Host != "denied.test" {
			t.Errorf("network summary: %+v", res.Network)
		}
	})
	t.Run("wildcard admits subdomains only", func(t *testing.T) {
		before := hits.Load()
		// a.example.test resolves to loopback, which the guard refuses
		// unless named: named here for this port.
		res := run(t, l, sess.ID, fetch(fmt.Sprintf("http://a.example.test:%d/", port)))
		if string(res.Stdout) != "hello from the allowed server" {
			t.Fatalf("a.example.test: %q", res.Stdout)
		}
		res = run(t, l, sess.ID, fetch(fmt.Sprintf("http://example.test:%d/", port)))
		if strings.Contains(string(res.Stdout), "hello") {
			t.Fatalf("example.test admitted by *.example.test: %q", res.Stdout)
		}
		if hits.Load() != before+1 {
			t.Fatalf("hits %d -> %d, want one", before, hits.Load())
		}
	})
	t.Run("no way around the proxy", func(t *testing.T) {
		before := hits.Load()
		direct := run(t, l, sess.ID, sh(`curl -s -m 5 --noproxy '*' "http://127.0.0.1:$1/" || echo "FAILED $?"`, fmt.Sprint(port)))
		udp := run(t, l, sess.ID, bash(`echo x > /dev/udp/127.0.0.1/53 && echo SENT || echo "REFUSED"`))
		raw := run(t, l, sess.ID, bash(`(echo x > /dev/tcp/127.0.0.1/$1) 2>&1 && echo CONNECTED || echo REFUSED`, fmt.Sprint(port)))
		if hits.Load() != before || !strings.Contains(string(direct.Stdout), "FAILED") {
			t.Errorf("direct connection to the server's address: %q", direct.Stdout)
		}
		if !strings.Contains(string(udp.Stdout), "REFUSED") || !strings.Contains(string(udp.Stderr), "not permitted") {
			t.Errorf("UDP send: %q %q", udp.Stdout, udp.Stderr)
		}
		if !strings.Contains(string(raw.Stdout), "REFUSED") || strings.Contains(string(raw.Stdout), "No such file") {
			t.Errorf("raw TCP connect ignoring the proxy: %q", raw.Stdout)
		}
		// The admitted sibling: the proxy's own port is reachable.
		proxyPort := strings.TrimPrefix(envOf(t, l, sess.ID, "HTTP_PROXY"), "http://127.0.0.1:")
		ok := run(t, l, sess.ID, bash(`(exec 3<>/dev/tcp/127.0.0.1/$1) && echo CONNECTED`, proxyPort))
		if string(ok.Stdout) != "CONNECTED\n" {
			t.Errorf("the proxy's port from inside: %q %q", ok.Stdout, ok.Stderr)
		}
	})
	t.Run("special addresses refused unless named", func(t *testing.T) {
		other := provision(t, l, Spec{NetworkPolicy: AllowHosts(allowed, "metadata.test:80", "private.test:80")})
		before, asked := hits.Load(), len(dialer.record())
		for _, url := range []string{fmt.Sprintf("http://allowed.test:%d/", port), "http://metadata.test/", "http://private.test/"} {
			if res := run(t, l, other.ID, fetch(url)); strings.Contains(string(res.Stdout), "hello") {
				t.Errorf("%s admitted: %q", url, res.Stdout)
			}
		}
		if hits.Load() != before || len(dialer.record()) != asked {
			t.Fatalf("the guard let a special address through: dialer asked for %v", dialer.record()[asked:])
		}
	})
	t.Run("narrowing refuses the next connection", func(t *testing.T) {
		if err := l.ApplyNetworkPolicy(context.Background(), sess.ID, AllowHosts("*.example.test:*")); err != nil {
			t.Fatal(err)
		}
		before := hits.Load()
		res := run(t, l, sess.ID, fetch(fmt.Sprintf("http://allowed.test:%d/", port)))
		if hits.Load() != before || strings.Contains(string(res.Stdout), "hello") {
			t.Fatalf("narrowed list still admits: %q", res.Stdout)
		}
	})
	t.Run("audit", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		var allowedSeen, refusedSeen bool
		for time.Now().Before(deadline) && !(allowedSeen && refusedSeen) {
			for _, e := range events() {
				if e.Host == "allowed.test" && e.Allowed && e.BytesDown > 0 && e.Session == sess.ID {
					allowedSeen = true
				}
				if e.Host == "denied.test" && !e.Allowed && e.Reason != "" {
					refusedSeen = true
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !allowedSeen || !refusedSeen {
			t.Fatalf("audit events: %+v", events())
		}
	})
	t.Run("invalid pattern", func(t *testing.T) {
		err := l.ApplyNetworkPolicy(context.Background(), sess.ID, AllowHosts("exa mple.test"))
		exactlyOneKind(t, "invalid pattern", err, ErrNetworkPolicy)
		_, err = l.Provision(context.Background(), Spec{NetworkPolicy: AllowHosts("*.*.test")})
		exactlyOneKind(t, "invalid pattern at provision", err, ErrNetworkPolicy)
	})
}

// Real clients through the proxy: curl over HTTPS (a CONNECT tunnel, the
// server's certificate checked against the test CA) and Python's urllib
// over plain HTTP; a host off the list is refused to both.
func TestAllowListRealClients(t *testing.T) {
	l, _, _ := allowListBackend(t)
	if !l.Capabilities().Enforcement.NetworkAllowList.Enforced {
		t.Skip("per-host allow-lists are not enforced on this host; TestAllowListThroughProxy checks that they are refused")
	}
	requireCommand(t, "curl")
	requirePython(t)
	var hits atomic.Int32
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "tls hello")
	}))
	t.Cleanup(tlsSrv.Close)
	tlsPort := tlsSrv.Listener.Addr().(*net.TCPAddr).Port
	_, plainHits, plainPort := countingServer(t, "plain hello")
	sess := provision(t, l, Spec{NetworkPolicy: AllowHosts(
		fmt.Sprintf("example.com:%d", tlsPort), fmt.Sprintf("127.0.0.1:%d", tlsPort),
		fmt.Sprintf("allowed.test:%d", plainPort), fmt.Sprintf("127.0.0.1:%d", plainPort))})
	// The test CA, where the command can read it.
	ca := filepath.Join(sess.Workdir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	ca = guestPath(t, sess, ca)
	res := run(t, l, sess.ID, sh(`curl -s -m 10 --cacert "$1" "https://example.com:$2/" || echo "FAILED $?"`, ca, fmt.Sprint(tlsPort)))
	if string(res.Stdout) != "tls hello" || hits.Load() != 1 {
		t.Fatalf("curl over HTTPS through the proxy: %q (hits %d)", res.Stdout, hits.Load())
	}
	res = run(t, l, sess.ID, sh(`curl -s -m 10 --cacert "$1" "https://denied.test:$2/" || echo "FAILED $?"`, ca, fmt.Sprint(tlsPort)))
	if hits.Load() != 1 || !strings.Contains(string(res.Stdout), "FAILED") {
		t.Fatalf("curl to an unlisted host: %q (hits %d)", res.Stdout, hits.Load())
	}
	urllib := `import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
except Exception as e:
    print("REFUSED", e)`
	res = run(t, l, sess.ID, ExecRequest{Command: python, Args: []string{"-c", urllib, fmt.Sprintf("http://allowed.test:%d/", plainPort)}})
	if strings.TrimSpace(string(res.Stdout)) != "plain hello" || plainHits.Load() != 1 {
		t.Fatalf("urllib through the proxy: %q %q", res.Stdout, res.Stderr)
	}
	res = run(t, l, sess.ID, ExecRequest{Command: python, Args: []string{"-c", urllib, fmt.Sprintf("http://denied.test:%d/", plainPort)}})
	if !strings.HasPrefix(string(res.Stdout), "REFUSED") || plainHits.Load() != 1 {
		t.Fatalf("urllib to an unlisted host: %q", res.Stdout)
	}
}

// envOf is the value of a variable in the session's commands.
func envOf(t *testing.T, l *Local, id SessionID, key string) string {
	t.Helper()
	res := run(t, l, id, sh(`printf %s "$(printenv "$1")"`, key))
	return string(res.Stdout)
}

// bash runs script under bash (for /dev/tcp and /dev/udp) with $1...
func bash(script string, args ...string) ExecRequest {
	return ExecRequest{Command: "bash", Args: append([]string{"-c", script, "bash"}, args...)}
}

func requireCommand(t *testing.T, name string) {
	t.Helper()
	if _, err := lookPath(name, DefaultPath, "/"); err != nil {
		t.Skipf("%s not installed", name)
	}
}
