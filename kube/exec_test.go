package kube

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/kube/internal/fakenode"
)

// execEnv is a backend whose pods live in a fake clientset and whose
// exec requests reach an in-process exec server: the kubelet's ServeExec,
// behind the API server's WebSocket-to-SPDY translator. Commands run as
// plain processes in dir: these tests are about the protocol and the
// in-pod script, not isolation.
type execEnv struct {
	b     *Backend
	front *fakenode.Frontend
	dir   string
	id    sandbox.SessionID
}

func newExecEnv(t *testing.T, protocol Protocol, limits sandbox.Limits) *execEnv {
	t.Helper()
	return newExecEnvWith(t, Config{ExecProtocol: protocol}, limits)
}

// newExecEnvWith is newExecEnv with more of the configuration.
func newExecEnvWith(t *testing.T, cfg Config, limits sandbox.Limits) *execEnv {
	t.Helper()
	dir := t.TempDir()
	kubelet := fakenode.NewKubelet(fakenode.HostRunner{Dir: dir})
	t.Cleanup(kubelet.Close)
	front := fakenode.NewFrontend(kubelet)
	t.Cleanup(front.Close)
	c := newFakeCluster(t)
	cfg.RESTConfig, cfg.NetworkPolicyEnforced = front.RESTConfig(), true
	b := c.backend(t, cfg)
	s := provision(t, b, sandbox.Spec{Limits: limits})
	return &execEnv{b: b, front: front, dir: dir, id: s.ID}
}

var protocols = []struct {
	name     string
	protocol Protocol
	// rejectWS makes the front refuse WebSocket upgrades, so that
	// ProtocolAuto must fall back to SPDY.
	rejectWS bool
}{
	{"websocket", ProtocolWebSocket, false},
	{"spdy", ProtocolSPDY, false},
	{"auto-fallback-to-spdy", ProtocolAuto, true},
}

// forEachProtocol runs fn once per way of reaching the exec server.
func forEachProtocol(t *testing.T, limits sandbox.Limits, fn func(t *testing.T, e *execEnv)) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			e := newExecEnv(t, p.protocol, limits)
			e.front.RejectWebSocket.Store(p.rejectWS)
			fn(t, e)
			ws, spdy := e.front.WebSocketRequests.Load(), e.front.SPDYRequests.Load()
			switch p.protocol {
			case ProtocolWebSocket:
				if spdy != 0 || ws == 0 {
					t.Errorf("websocket only: %d websocket and %d spdy requests", ws, spdy)
				}
			case ProtocolSPDY:
				if ws != 0 || spdy == 0 {
					t.Errorf("spdy only: %d websocket and %d spdy requests", ws, spdy)
				}
			default:
				if ws != spdy {
					t.Errorf("fallback: %d websocket attempts for %d spdy requests, want one each per command", ws, spdy)
				}
			}
		})
	}
}

func (e *execEnv) exec(t *testing.T, req sandbox.ExecRequest) *sandbox.ExecResult {
	t.Helper()
	r, err := e.b.Exec(t.Context(), e.id, req)
	if err != nil {
		t.Fatalf("exec %q: %v", req.Command, err)
	}
	return r
}

func TestExecStdoutStderrExit(t *testing.T) {
	forEachProtocol(t, sandbox.Limits{}, func(t *testing.T, e *execEnv) {
		r := e.exec(t, sandbox.ExecRequest{Command: "sh", Args: []string{"-c", `printf 'to out'; printf 'to err' >&2; exit 7`}})
		if string(r.Stdout) != "to out" || string(r.Stderr) != "to err" || r.ExitCode != 7 || r.TimedOut || r.Success() {
			t.Errorf("got stdout %q stderr %q exit %d timedOut %v", r.Stdout, r.Stderr, r.ExitCode, r.TimedOut)
		}
		r = e.exec(t, sandbox.ExecRequest{Command: "echo", Args: []string{"fine"}})
		if string(r.Stdout) != "fine\n" || !r.Success() {
			t.Errorf("echo: stdout %q exit %d", r.Stdout, r.ExitCode)
		}
	})
}

func TestExecStdinToEOF(t *testing.T) {
	forEachProtocol(t, sandbox.Limits{}, func(t *testing.T, e *execEnv) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB, several frames
		r := e.exec(t, sandbox.ExecRequest{Command: "sh", Args: []string{"-c", `wc -c; echo done`},
			Stdin: []byte("head:"), StdinReader: bytes.NewReader(big)})
		want := len(big) + len("head:")
		if got := strings.Fields(string(r.Stdout)); len(got) != 2 || got[0] != itoa(want) || got[1] != "done" {
			t.Errorf("wc -c read %q, want %d bytes then done (stdin must reach EOF)", r.Stdout, want)
		}
		r = e.exec(t, sandbox.ExecRequest{Command: "cat", Stdin: []byte("line one\nline two\n")})
		if string(r.Stdout) != "line one\nline two\n" {
			t.Errorf("cat echoed %q", r.Stdout)
		}
	})
}

func TestExecArgvVerbatim(t *testing.T) {
	args := []string{"it's", `"double"`, "$(echo pwned)", "`echo pwned`", "a\nb", "x; echo pwned", "$HOME", "*", "", " spaced ", "-n", `back\slash`}
	forEachProtocol(t, sandbox.Limits{}, func(t *testing.T, e *execEnv) {
		r := e.exec(t, sandbox.ExecRequest{Command: "printf", Args: append([]string{"[%s]\n"}, args...)})
		var want strings.Builder
		for _, a := range args {
			want.WriteString("[" + a + "]\n")
		}
		if string(r.Stdout) != want.String() {
			t.Errorf("argv not delivered verbatim:\ngot  %q\nwant %q", r.Stdout, want.String())
		}
		// The same words through env: values are never interpolated.
		r = e.exec(t, sandbox.ExecRequest{Command: "sh", Args: []string{"-c", `printf '%s' "$V"`},
			Env: map[string]string{"V": "$(echo pwned); `id` 'q' \n"}})
		if string(r.Stdout) != "$(echo pwned); `id` 'q' \n" {
			t.Errorf("env value altered: %q", r.Stdout)
		}
	})
}

func TestExecCwd(t *testing.T) {
	forEachProtocol(t, sandbox.Limits{}, func(t *testing.T, e *execEnv) {
		sub := filepath.Join(e.dir, "sub dir; $(x)")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		r := e.exec(t, sandbox.ExecRequest{Command: "sh", Args: []string{"-c", "pwd; : > made-here"}, Cwd: "sub dir; $(x)"})
		if strings.TrimSpace(string(r.Stdout)) != sub {
			t.Errorf("pwd %q, want %q", r.Stdout, sub)
		}
		if _, err := os.Stat(filepath.Join(sub, "made-here")); err != nil {
			t.Errorf("the command did not run in its cwd: %v", err)
		}
		_, err := e.b.Exec(t.Context(), e.id, sandbox.ExecRequest{Command: "true", Cwd: "missing"})
		if !errors.Is(err, sandbox.ErrInvalidRequest) || !strings.Contains(err.Error(), "missing") {
			t.Errorf("a missing cwd answered %v, want ErrInvalidRequest naming it", err)
		}
	})
}

func TestExecTimeout(t *testing.T) {
	forEachProtocol(t, sandbox.Limits{}, func(t *testing.T, e *execEnv) {
		marker := filepath.Join(e.dir, "survivor")
		began := time.Now()
		// A background child that would write the marker after the
		// timeout: timeout(1) must kill the whole group.
		r := e.exec(t, sandbox.ExecRequest{Command: "sh", Timeout: time.Second,
			Args: []string{"-c", `(sleep 3; : > "$1") & echo started; sleep 30`, "sh", marker}})
		took := time.Since(began)
		if !r.TimedOut || r.Reason != sandbox.ReasonWallTime || string(r.Stdout) != "started\n" {
			t.Errorf("got timedOut %v reason %q stdout %q exit %d", r.TimedOut, r.Reason, r.Stdout, r.ExitCode)
		}
		if took > 6*time.Second {
			t.Errorf("a 1s timeout returned after %v", took)
		}
		time.Sleep(3 * time.Second)
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("a background child of the timed-out command survived and wrote %s", marker)
		}
		// A command that exits 124 by itself has not timed out.
		r = e.exec(t, sandbox.ExecRequest{Command: "sh", Args: []string{"-c", "exit 124"}, Timeout: 5 * time.Second})
		if r.TimedOut || r.ExitCode != 124 {
			t.Errorf("exit 124 by itself: timedOut %v exit %d", r.TimedOut, r.ExitCode)
		}
	})
}

// Cancelling the context closes the stream, which does not stop a process
// in a container (nor in this exec server): the backend kills the
// command's processes from a second exec.
func TestExecCancelKillsInThePod(t *testing.T) {
	forEachProtocol(t, sandbox.Limits{}, func(t *testing.T, e *execEnv) {
		marker := filepath.Join(e.dir, "survivor")
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		r, err := e.b.Exec(ctx, e.id, sandbox.ExecRequest{Command: "sh", Timeout: time.Minute,
			Args: []string{"-c", `(sleep 3; : > "$1") & echo started; sleep 60`, "sh", marker}})
		if err != nil || r == nil || !r.TimedOut || r.Reason != sandbox.ReasonCancelled {
			t.Fatalf("cancelled exec: %+v, %v; want TimedOut, reason cancelled and no error, as the local backend", r, err)
		}
		if string(r.Stdout) != "started\n" {
			t.Errorf("stdout %q", r.Stdout)
		}
		time.Sleep(3 * time.Second)
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("a process of the cancelled command survived and wrote %s", marker)
		}
	})
}

func TestExecOutputCap(t *testing.T) {
	forEachProtocol(t, sandbox.Limits{MaxOutputBytes: 1000}, func(t *testing.T, e *execEnv) {
		var tee bytes.Buffer
		r := e.exec(t, sandbox.ExecRequest{Command: "sh", Stdout: &tee,
			Args: []string{"-c", `head -c 100000 /dev/zero | tr '\0' o; head -c 100000 /dev/zero | tr '\0' e >&2`}})
		if len(r.Stdout) != 1000 || !r.StdoutTruncated || strings.Trim(string(r.Stdout), "o") != "" {
			t.Errorf("stdout kept %d bytes, truncated %v", len(r.Stdout), r.StdoutTruncated)
		}
		if len(r.Stderr) != 1000 || !r.StderrTruncated || strings.Trim(string(r.Stderr), "e") != "" {
			t.Errorf("stderr kept %d bytes, truncated %v", len(r.Stderr), r.StderrTruncated)
		}
		if tee.Len() != 100000 {
			t.Errorf("the caller's writer got %d bytes, want all 100000", tee.Len())
		}
		r = e.exec(t, sandbox.ExecRequest{Command: "printf", Args: []string{"short"}})
		if string(r.Stdout) != "short" || r.StdoutTruncated {
			t.Errorf("short output %q truncated %v", r.Stdout, r.StdoutTruncated)
		}
	})
}

// A command that fails must run once: the fallback to SPDY is for upgrade
// failures only, and a non-zero exit over WebSocket is not one.
func TestExecFallbackNeverRerunsACommand(t *testing.T) {
	e := newExecEnv(t, ProtocolAuto, sandbox.Limits{})
	count := filepath.Join(e.dir, "runs")
	r := e.exec(t, sandbox.ExecRequest{Command: "sh", Args: []string{"-c", `echo run >> "$1"; echo out; exit 3`, "sh", count}})
	runs, err := os.ReadFile(count)
	if err != nil {
		t.Fatal(err)
	}
	if string(runs) != "run\n" || string(r.Stdout) != "out\n" || r.ExitCode != 3 {
		t.Errorf("ran %d times, stdout %q, exit %d", strings.Count(string(runs), "run"), r.Stdout, r.ExitCode)
	}
	if ws, spdy := e.front.WebSocketRequests.Load(), e.front.SPDYRequests.Load(); ws != 1 || spdy != 0 {
		t.Errorf("%d websocket and %d spdy requests, want WebSocket only", ws, spdy)
	}
}

func TestExecBadRequests(t *testing.T) {
	e := newExecEnv(t, ProtocolSPDY, sandbox.Limits{})
	for name, req := range map[string]sandbox.ExecRequest{
		"empty command":   {Command: " "},
		"bad env key":     {Command: "true", Env: map[string]string{"A-B": "x"}},
		"NUL in argument": {Command: "true", Args: []string{"a\x00b"}},
		"negative":        {Command: "true", Timeout: -1},
	} {
		if _, err := e.b.Exec(t.Context(), e.id, req); !errors.Is(err, sandbox.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if _, err := e.b.Exec(t.Context(), e.id, sandbox.ExecRequest{Command: "true", Terminal: &sandbox.TerminalSize{Rows: 24, Cols: 80}}); !errors.Is(err, sandbox.ErrUnsupported) {
		t.Errorf("a terminal: %v, want ErrUnsupported", err)
	}
	if _, err := e.b.Exec(t.Context(), "no-such-session", sandbox.ExecRequest{Command: "true"}); !errors.Is(err, sandbox.ErrSessionNotFound) {
		t.Errorf("unknown session: %v", err)
	}
	if n := e.front.Kubelet.Execs(); n != 0 {
		t.Errorf("%d bad requests reached the pod", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Spec.Env reaches every command, and the request's Env wins on a shared
// key, as with the local backend.
func TestExecSessionEnv(t *testing.T) {
	dir := t.TempDir()
	kubelet := fakenode.NewKubelet(fakenode.HostRunner{Dir: dir})
	t.Cleanup(kubelet.Close)
	front := fakenode.NewFrontend(kubelet)
	t.Cleanup(front.Close)
	b := newFakeCluster(t).backend(t, Config{ExecProtocol: ProtocolWebSocket, RESTConfig: front.RESTConfig(), NetworkPolicyEnforced: true})
	s := provision(t, b, sandbox.Spec{Env: map[string]string{"TOOL_HOME": "/opt/tool", "MODE": "session"}})
	script := []string{"-c", `printf '%s %s' "$TOOL_HOME" "$MODE"`}
	r, err := b.Exec(t.Context(), s.ID, sandbox.ExecRequest{Command: "sh", Args: script})
	if err != nil || string(r.Stdout) != "/opt/tool session" {
		t.Fatalf("session env: %+v, %v", r, err)
	}
	r, err = b.Exec(t.Context(), s.ID, sandbox.ExecRequest{Command: "sh", Args: script, Env: map[string]string{"MODE": "request"}})
	if err != nil || string(r.Stdout) != "/opt/tool request" {
		t.Fatalf("request env over session env: %+v, %v", r, err)
	}
	if _, err := b.Provision(t.Context(), sandbox.Spec{Env: map[string]string{"1BAD": "x"}}); !errors.Is(err, sandbox.ErrInvalidRequest) {
		t.Fatalf("bad session env key: %v", err)
	}
}
