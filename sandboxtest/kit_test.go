package sandboxtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
)

func newLocal(t *testing.T) *sandbox.Local {
	t.Helper()
	return newLocalWith(t, sandbox.LocalConfig{})
}

func newLocalWith(t *testing.T, cfg sandbox.LocalConfig) *sandbox.Local {
	t.Helper()
	cfg.RootDir = sandboxtest.RootDir(t)
	b, err := sandbox.NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// viewCases are the cases a backend that reports a session view of its
// own is held to.
var viewCases = []string{"view_mount_target_read_admitted", "view_mount_source_read_refused",
	"view_outputs_write_admitted", "view_other_session_outputs_read_refused"}

// TestLocalConforms runs the kit against the local backend, with the
// default configuration (a view of its own where the host can make one)
// and with the host's view: every case conforms, or is not measured with
// a reason.
func TestLocalConforms(t *testing.T) {
	for _, c := range []struct {
		name string
		view sandbox.ViewMode
	}{{"default", sandbox.ViewAuto}, {"host_view", sandbox.ViewHost}} {
		t.Run(c.name, func(t *testing.T) {
			b := newLocalWith(t, sandbox.LocalConfig{View: c.view})
			e := b.Capabilities().Enforcement
			if !e.Filesystem.Enforced {
				t.Logf("filesystem confinement not enforced here (%s): the kit must report not measured", e.Filesystem.Reason)
			}
			rep := sandboxtest.Run(t, b, sandboxtest.Options{})
			for _, r := range rep.Results {
				switch r.Verdict {
				case sandboxtest.Conforms:
				case sandboxtest.NotMeasured:
					if strings.TrimSpace(r.Detail) == "" {
						t.Errorf("%s: not measured without a reason", r.Case)
					}
				default:
					t.Errorf("%s: %s (%s), want conforms or not measured", r.Case, r.Verdict, r.Detail)
				}
			}
			if len(rep.Results) < 25 {
				t.Errorf("%d results, want every case", len(rep.Results))
			}
			// The view cases are measured exactly when the backend
			// reports a view: never with the host's view.
			if c.view == sandbox.ViewHost && e.View.Enforced {
				t.Errorf("ViewHost reports a view: %+v", e.View)
			}
			for _, name := range viewCases {
				r, _ := rep.Result(name)
				if want := e.View.Enforced; (r.Verdict == sandboxtest.Conforms) != want {
					t.Errorf("%s: %s (%s), with a view reported %v", name, r.Verdict, r.Detail, want)
				}
			}
		})
	}
}

// broken wraps the local backend but runs every session unconfined,
// whatever the spec asks, while reporting the local backend's
// capabilities: the kit must catch it.
type broken struct{ *sandbox.Local }

func (b broken) Name() string { return "broken" }

func (b broken) Provision(ctx context.Context, spec sandbox.Spec) (*sandbox.Session, error) {
	spec.Profile = sandbox.Unrestricted
	return b.Local.Provision(ctx, spec)
}

// TestBrokenBackendEscapes checks that the kit can fail: an unconfined
// backend is reported escaped on the refusal cases.
func TestBrokenBackendEscapes(t *testing.T) {
	b := broken{newLocal(t)}
	rep, err := sandboxtest.Check(t.Context(), b, sandboxtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	refusals := []string{
		"outside_write_refused",
		"outside_read_refused",
		"ro_mount_write_refused",
		"other_session_temp_read_refused",
		"network_denyall_refused",
	}
	if b.Capabilities().Enforcement.View.Enforced {
		// It reports the local backend's view, and its commands see
		// host paths.
		refusals = append(refusals, "view_mount_source_read_refused")
	}
	for _, name := range refusals {
		r, ok := rep.Result(name)
		if !ok {
			t.Errorf("%s: missing from the report", name)
			continue
		}
		if r.Verdict != sandboxtest.Escaped {
			t.Errorf("%s: %s (%s), want escaped", name, r.Verdict, r.Detail)
		}
	}
	// The admitted siblings still pass: the kit does not fail everything.
	for _, name := range []string{"workspace_write_admitted", "system_read_admitted", "ro_mount_read_admitted", "declared_env_delivered"} {
		if r, _ := rep.Result(name); r.Verdict != sandboxtest.Conforms {
			t.Errorf("%s: %s (%s), want conforms", name, r.Verdict, r.Detail)
		}
	}
	// The view it reports and does not give fails the view's admitted
	// cases too: commands do not find files at their guest paths.
	if b.Capabilities().Enforcement.View.Enforced {
		for _, name := range []string{"view_mount_target_read_admitted", "view_outputs_write_admitted"} {
			if r, _ := rep.Result(name); r.Verdict != sandboxtest.OverRefused {
				t.Errorf("%s: %s (%s), want over-refused", name, r.Verdict, r.Detail)
			}
		}
	}
	if !rep.Failed() {
		t.Error("Report.Failed() = false for a broken backend")
	}
}

// refuser refuses every Exec: the admitted cases must be over-refused.
type refuser struct{ *sandbox.Local }

func (refuser) Name() string { return "refuser" }

func (r refuser) Exec(ctx context.Context, id sandbox.SessionID, req sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	return nil, &sandbox.Error{Op: "exec", Session: id, Kind: sandbox.ErrExec, Err: errors.New("refused")}
}

func TestRefusingBackendOverRefused(t *testing.T) {
	b := refuser{newLocal(t)}
	rep, err := sandboxtest.Check(t.Context(), b, sandboxtest.Options{
		Skip: []string{"timeout_kills_and_reports", "terminate_leaves_nothing"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	admitted := []string{"workspace_write_admitted", "system_read_admitted", "ro_mount_read_admitted",
		"session_temp_write_admitted", "declared_env_delivered"}
	if b.Capabilities().Enforcement.View.Enforced {
		admitted = append(admitted, "view_mount_target_read_admitted", "view_outputs_write_admitted")
	}
	for _, name := range admitted {
		if r, _ := rep.Result(name); r.Verdict != sandboxtest.OverRefused && r.Verdict != sandboxtest.NotMeasured {
			t.Errorf("%s: %s (%s), want over-refused", name, r.Verdict, r.Detail)
		}
	}
}

// TestNewSession provisions a session bound to the test and checks that
// the cleanup terminates it.
func TestNewSession(t *testing.T) {
	b := newLocal(t)
	var id sandbox.SessionID
	t.Run("inner", func(t *testing.T) {
		s := sandboxtest.NewSession(t, b, sandbox.Spec{NetworkPolicy: sandbox.AllowAll()})
		id = s.ID
		res, err := b.Exec(t.Context(), s.ID, sandbox.ExecRequest{Command: "/bin/sh", Args: []string{"-c", "echo hi"}})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Stdout) != "hi\n" {
			t.Fatalf("stdout %q", res.Stdout)
		}
	})
	if id == "" {
		t.Fatal("the subtest did not provision")
	}
	if _, err := b.Snapshot(t.Context(), id); !errors.Is(err, sandbox.ErrSessionNotFound) {
		t.Errorf("after the subtest's cleanup: Snapshot = %v, want ErrSessionNotFound", err)
	}
}

func TestReportRendering(t *testing.T) {
	rep := sandboxtest.Report{Backend: "x", Results: []sandboxtest.Result{
		{Case: "a", Verdict: sandboxtest.Conforms, Detail: "fine"},
		{Case: "b", Verdict: sandboxtest.NotMeasured, Detail: "two\nlines"},
	}}
	s := rep.String()
	for _, want := range []string{"CASE", "a ", "conforms", "two | lines", "1 conform, 0 escaped, 0 over-refused, 1 not measured"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if rep.Failed() {
		t.Error("Failed() = true without escapes")
	}
}

// TestRemoteWithoutHooks runs the kit as for a remote backend that gives
// no hooks: the cases that need them are not applicable, the others still
// judge by the backend's answers.
func TestRemoteWithoutHooks(t *testing.T) {
	rep, err := sandboxtest.Check(t.Context(), newLocal(t), sandboxtest.Options{Remote: &sandboxtest.Remote{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if rep.Failed() {
		t.Error("a case failed")
	}
	for _, name := range []string{"outside_read_refused", "ro_mount_write_refused", "network_denyall_refused"} {
		if r, _ := rep.Result(name); r.Verdict != sandboxtest.NotApplicable {
			t.Errorf("%s: %s (%s), want not applicable", name, r.Verdict, r.Detail)
		}
	}
	for _, name := range []string{"system_read_admitted", "timeout_kills_and_reports", "terminate_leaves_nothing", "unknown_session_not_found"} {
		if r, _ := rep.Result(name); r.Verdict != sandboxtest.Conforms {
			t.Errorf("%s: %s (%s), want conforms", name, r.Verdict, r.Detail)
		}
	}
}
