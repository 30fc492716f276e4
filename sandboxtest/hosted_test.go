//go:build unix

package sandboxtest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
)

// stubHosted is a hosted backend as a test double: it keeps sessions in
// memory and runs commands with plain os/exec, confining nothing, and says
// so in Capabilities. It imports neither the local backend's OS layer nor
// anything of the local backend, as a hosted backend would not.
type stubHosted struct {
	mu       sync.Mutex
	dir      string
	sessions map[sandbox.SessionID]*sandbox.Session
	cancels  map[sandbox.SessionID]context.CancelFunc // ends a session's commands
	next     int
}

func (b *stubHosted) Name() string { return "stub-hosted" }

func (b *stubHosted) Capabilities() sandbox.Capabilities {
	none := sandbox.NotEnforced("the stub confines nothing")
	return sandbox.Capabilities{Enforcement: sandbox.Enforcement{
		OS: "stub", Filesystem: none, NetworkDenyAll: none, NetworkAllowList: none, UnixSockets: none,
		Syscalls: none, ProcessTree: none, UnrestrictedProcessTree: none, Privileges: none, HostFileMetadata: none,
		Limits: sandbox.LimitSupport{Memory: none, CPUTime: none, CPUCount: none, MaxProcesses: none, MaxFileSize: none, MaxOpenFiles: none},
	}}
}

func (b *stubHosted) Provision(ctx context.Context, spec sandbox.Spec) (*sandbox.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	s := &sandbox.Session{ID: sandbox.SessionID("stub-" + time.Now().Format("150405.000000")), Backend: b.Name(),
		State: sandbox.StateRunning, Labels: spec.Labels, NetworkPolicy: spec.NetworkPolicy, Limits: spec.Limits, CreatedAt: time.Now()}
	s.ID += sandbox.SessionID("-" + string(rune('a'+b.next%26)))
	s.Root = filepath.Join(b.dir, string(s.ID))
	s.Workdir = filepath.Join(s.Root, "work")
	for _, d := range []string{s.Workdir, filepath.Join(s.Root, "tmp"), filepath.Join(s.Root, "outputs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, &sandbox.Error{Op: "provision", Kind: sandbox.ErrIO, Err: err}
		}
	}
	s.Mounts = []sandbox.ResolvedMount{{Source: filepath.Join(s.Root, "outputs"), Target: sandbox.OutputsTarget, Access: sandbox.ReadWrite}}
	for _, m := range spec.Mounts {
		s.Mounts = append(s.Mounts, sandbox.ResolvedMount(m))
	}
	b.sessions[s.ID] = s
	_, b.cancels[s.ID] = context.WithCancel(context.Background())
	return s, nil
}

func (b *stubHosted) lookup(op string, id sandbox.SessionID) (*sandbox.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sessions[id]; s != nil {
		return s, nil
	}
	return nil, &sandbox.Error{Op: op, Session: id, Kind: sandbox.ErrSessionNotFound}
}

// unsupported answers the calls the stub does not offer.
func (b *stubHosted) unsupported(op string, id sandbox.SessionID) error {
	if _, err := b.lookup(op, id); err != nil {
		return err
	}
	return &sandbox.Error{Op: op, Session: id, Kind: sandbox.ErrUnsupported,
		Err: &sandbox.UnsupportedError{Backend: b.Name(), Operation: op, Reason: "the stub runs no commands"}}
}

func (b *stubHosted) AttachFilesystem(ctx context.Context, id sandbox.SessionID, m sandbox.Mount) (sandbox.ResolvedMount, error) {
	return sandbox.ResolvedMount{}, b.unsupported("attach filesystem", id)
}

func (b *stubHosted) ApplyNetworkPolicy(ctx context.Context, id sandbox.SessionID, p sandbox.NetworkPolicy) error {
	return b.unsupported("apply network policy", id)
}

func (b *stubHosted) Exec(ctx context.Context, id sandbox.SessionID, req sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	s, err := b.lookup("exec", id)
	if err != nil {
		return nil, err
	}
	timeout := req.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	b.mu.Lock()
	sessionCtx, sessionCancel := context.WithCancel(ctx)
	stopOnTerminate := b.cancels[id]
	b.cancels[id] = func() { stopOnTerminate(); sessionCancel() }
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(sessionCtx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, req.Command, req.Args...)
	cmd.Dir = s.Workdir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + s.Workdir, "TMPDIR=" + filepath.Join(s.Root, "tmp"),
		sandbox.OutputsEnv + "=" + s.Mounts[0].Source}
	for k, v := range req.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = bytes.NewReader(req.Stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The whole group dies on the timeout, so the output pipes close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	res := &sandbox.ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: cmd.ProcessState.ExitCode()}
	if limit := s.Limits.MaxOutputBytes; limit > 0 {
		if len(res.Stdout) > limit {
			res.Stdout, res.StdoutTruncated = res.Stdout[:limit], true
		}
		if len(res.Stderr) > limit {
			res.Stderr, res.StderrTruncated = res.Stderr[:limit], true
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.TimedOut, res.Reason = true, sandbox.ReasonWallTime
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) && !res.TimedOut {
		return nil, &sandbox.Error{Op: "exec", Session: id, Kind: sandbox.ErrExec, Err: runErr}
	}
	return res, nil
}

func (b *stubHosted) Snapshot(ctx context.Context, id sandbox.SessionID) (*sandbox.Snapshot, error) {
	s, err := b.lookup("snapshot", id)
	if err != nil {
		return nil, err
	}
	return &sandbox.Snapshot{Session: *s, TakenAt: time.Now()}, nil
}

func (b *stubHosted) Resume(ctx context.Context, id sandbox.SessionID) (*sandbox.Session, error) {
	return b.lookup("resume", id)
}

func (b *stubHosted) Terminate(ctx context.Context, id sandbox.SessionID) error {
	if _, err := b.lookup("terminate", id); err != nil {
		return err
	}
	b.mu.Lock()
	b.cancels[id]()
	delete(b.cancels, id)
	s := b.sessions[id]
	delete(b.sessions, id)
	b.mu.Unlock()
	return os.RemoveAll(s.Root)
}

// A hosted backend that confines nothing, and says so, gets honest
// verdicts: the kit finds every escape (saying not enforced does not make
// an escape pass), and what the backend does do (run commands, deliver
// env, time out, cap output, forget sessions) conforms.
func TestStubHostedBackendGetsHonestVerdicts(t *testing.T) {
	b := &stubHosted{dir: sandboxtest.RootDir(t), sessions: map[sandbox.SessionID]*sandbox.Session{},
		cancels: map[sandbox.SessionID]context.CancelFunc{}}
	rep, err := sandboxtest.Check(t.Context(), b, sandboxtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	for _, name := range []string{"outside_write_refused", "outside_read_refused", "ro_mount_write_refused",
		"other_session_temp_read_refused", "network_denyall_refused"} {
		if r, ok := rep.Result(name); !ok || r.Verdict != sandboxtest.Escaped {
			t.Errorf("%s: %+v, want escaped", name, r)
		}
	}
	for _, r := range rep.Results {
		if r.Verdict == sandboxtest.OverRefused {
			t.Errorf("%s: over-refused (%s)", r.Case, r.Detail)
		}
	}
	for _, name := range []string{"workspace_write_admitted", "declared_env_delivered", "timeout_kills_and_reports",
		"output_cap_truncates", "unknown_session_not_found", "exec_after_terminate_not_found"} {
		if r, ok := rep.Result(name); !ok || r.Verdict != sandboxtest.Conforms {
			t.Errorf("%s: %+v, want conforms", name, r)
		}
	}
}
