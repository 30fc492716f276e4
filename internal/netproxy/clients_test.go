package netproxy

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// These tests drive real clients (curl, Python's urllib, openssl) through
// the proxy. The clients resolve nothing themselves: every name goes to
// the proxy, whose fake network maps it to loopback servers.

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// runClient runs a client with only the given environment (no host proxy
// or NO_PROXY settings leak in) and returns its output and exit code.
func runClient(t *testing.T, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), code
}

func TestCurl(t *testing.T) {
	curl := needTool(t, "curl")
	w := newWorld(t, "allowed.test", "other.test", "a.example.test", "example.test")
	tp := startProxy(t, w.fn, w.entry("allowed.test"), "*.example.test:*")
	ca := getPKI(t).caFile
	proxies := map[string][]string{
		"HTTPS_PROXY": {"HTTPS_PROXY=http://" + tp.addr},
		"https_proxy": {"https_proxy=http://" + tp.addr},
		"ALL_PROXY":   {"ALL_PROXY=socks5h://" + tp.addr},
	}
	for via, env := range proxies {
		for _, c := range []struct {
			name  string
			admit bool
		}{{"allowed.test", true}, {"other.test", false}, {"a.example.test", true}, {"example.test", false}} {
			s := w.sites[c.name]
			before := s.hits.Load()
			out, code := runClient(t, env, curl, "-sS", "--max-time", "10", "--cacert", ca, w.url(c.name))
			hits := s.hits.Load() - before
			if c.admit {
				if code != 0 || out != "hello from "+c.name || hits != 1 {
					t.Errorf("curl via %s to %s: exit %d, %q, hits %d; want the page", via, c.name, code, out, hits)
				}
			} else if code == 0 || hits != 0 {
				t.Errorf("curl via %s to %s: exit %d, %q, hits %d; want a refusal", via, c.name, code, out, hits)
			}
			e := tp.event(t)
			if e.Allowed != c.admit || e.Host != c.name {
				t.Errorf("curl via %s to %s: event %+v", via, c.name, e)
			}
			wantProto := ProtoHTTPConnect
			if via == "ALL_PROXY" {
				wantProto = ProtoSOCKS5
			}
			if e.Protocol != wantProto {
				t.Errorf("curl via %s: protocol %s", via, e.Protocol)
			}
		}
	}
}

func TestPythonUrllib(t *testing.T) {
	python := needTool(t, "python3")
	plain := newSite(t, "plain.test", nil)
	w := newWorld(t, "allowed.test", "other.test")
	w.fn.name("plain.test", "203.0.113.40")
	w.fn.route(t, "203.0.113.40:"+plain.port(), plain.addrPort())
	w.fn.name("blocked.test", "203.0.113.41")
	tp := startProxy(t, w.fn, "plain.test:"+plain.port(), w.entry("allowed.test"))
	const script = `
import ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=10, context=ctx).read().decode(), end="")
except urllib.error.HTTPError as e:
    print("HTTP", e.code, end=""); sys.exit(3)
except urllib.error.URLError as e:
    print("URLError", e.reason, end=""); sys.exit(4)
`
	env := []string{"HTTP_PROXY=http://" + tp.addr, "HTTPS_PROXY=http://" + tp.addr}
	ca := getPKI(t).caFile

	out, code := runClient(t, env, python, "-c", script, "http://plain.test:"+plain.port()+"/", ca)
	if code != 0 || out != "hello from plain.test" || plain.hits.Load() != 1 {
		t.Errorf("plain allowed: exit %d %q hits %d", code, out, plain.hits.Load())
	}
	if e := tp.event(t); !e.Allowed || e.Protocol != ProtoHTTP {
		t.Errorf("event %+v", e)
	}
	out, code = runClient(t, env, python, "-c", script, "http://blocked.test:"+plain.port()+"/", ca)
	if code != 3 || out != "HTTP 403" || plain.hits.Load() != 1 {
		t.Errorf("plain refused: exit %d %q hits %d", code, out, plain.hits.Load())
	}
	tp.event(t)

	out, code = runClient(t, env, python, "-c", script, w.url("allowed.test"), ca)
	if code != 0 || out != "hello from allowed.test" {
		t.Errorf("https allowed: exit %d %q", code, out)
	}
	tp.event(t)
	out, code = runClient(t, env, python, "-c", script, w.url("other.test"), ca)
	if code == 0 || w.sites["other.test"].hits.Load() != 0 {
		t.Errorf("https refused: exit %d %q", code, out)
	}
	tp.event(t)
}

// TestOpenSSLServerNameMismatch sends a ClientHello for other.test
// through a CONNECT to allowed.test; the sibling sends the right name.
func TestOpenSSLServerNameMismatch(t *testing.T) {
	openssl := needTool(t, "openssl")
	w := newWorld(t, "allowed.test")
	s := w.sites["allowed.test"]
	tp := startProxy(t, w.fn, w.entry("allowed.test"))
	run := func(sni string) (string, int) {
		return runClient(t, nil, openssl, "s_client", "-proxy", tp.addr, "-connect", w.entry("allowed.test"),
			"-servername", sni, "-CAfile", getPKI(t).caFile, "-verify_return_error", "-brief")
	}
	out, code := run("other.test")
	if code == 0 || s.hello.Load() != 0 {
		t.Errorf("mismatched SNI: exit %d, server saw %d ClientHellos\n%s", code, s.hello.Load(), out)
	}
	if e := tp.event(t); e.Allowed || !strings.Contains(e.Reason, `"other.test"`) {
		t.Errorf("event %+v", e)
	}
	out, code = run("allowed.test")
	if code != 0 || s.hello.Load() != 1 || !strings.Contains(out, "Verification: OK") {
		t.Errorf("matching SNI: exit %d, hellos %d\n%s", code, s.hello.Load(), out)
	}
	if e := tp.event(t); !e.Allowed {
		t.Errorf("event %+v", e)
	}
}
