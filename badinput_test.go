package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// checkErr asserts err is an *Error of the given kind.
func checkErr(t *testing.T, err, kind error) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %v is not %v", err, kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Op == "" || e.Kind != kind {
		t.Fatalf("*Error %+v: want an op and kind %v", e, kind)
	}
	// Exactly one kind: callers branch on errors.Is.
	var kinds []error
	for _, k := range []error{ErrSessionNotFound, ErrUnsupported, ErrInvalidRequest, ErrLifecycle, ErrExec, ErrNetworkPolicy, ErrIO} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		t.Fatalf("error %v matches %d sentinels %v, want exactly %v", err, len(kinds), kinds, kind)
	}
	return e
}

func TestProvisionBadInput(t *testing.T) {
	outside := t.TempDir()
	cases := []struct {
		name string
		spec Spec
		kind error
	}{
		{"relative target", Spec{Mounts: []Mount{{Target: "mnt/data", Access: ReadWrite}}}, ErrInvalidRequest},
		{"dotdot target", Spec{Mounts: []Mount{{Target: "/mnt/../etc", Access: ReadWrite}}}, ErrInvalidRequest},
		{"trailing dotdot target", Spec{Mounts: []Mount{{Target: "/mnt/data/..", Access: ReadWrite}}}, ErrInvalidRequest},
		{"root target", Spec{Mounts: []Mount{{Target: "/", Access: ReadWrite}}}, ErrInvalidRequest},
		{"empty target", Spec{Mounts: []Mount{{Target: "", Access: ReadWrite}}}, ErrInvalidRequest},
		{"NUL in target", Spec{Mounts: []Mount{{Target: "/mnt/a\x00b", Access: ReadWrite}}}, ErrInvalidRequest},
		{"duplicate targets", Spec{Mounts: []Mount{{Target: "/mnt/a", Access: ReadWrite}, {Target: "/mnt/a", Access: ReadOnly}}}, ErrInvalidRequest},
		{"duplicate after trimming", Spec{Mounts: []Mount{{Target: "/mnt/a", Access: ReadWrite}, {Target: "/mnt/a/", Access: ReadWrite}}}, ErrInvalidRequest},
		{"two mounts at /mnt/memory", Spec{Mounts: []Mount{{Target: "/mnt/memory", Access: ReadWrite}, {Target: "/mnt/memory/", Access: ReadOnly}}}, ErrInvalidRequest},
		{"read-only source missing", Spec{Mounts: []Mount{{Source: filepath.Join(outside, "typo"), Target: "/mnt/in", Access: ReadOnly}}}, ErrInvalidRequest},
		{"memory limit wraps", Spec{Limits: Limits{MemoryMB: 1 << 44}}, ErrInvalidRequest},
		{"memory limit wraps plus one", Spec{Limits: Limits{MemoryMB: 1<<44 + 1}}, ErrInvalidRequest},
		{"file size limit wraps", Spec{Limits: Limits{MaxFileSizeMB: 1 << 44}}, ErrInvalidRequest},
		{"process limit above PID_MAX_LIMIT", Spec{Limits: Limits{MaxProcesses: 1<<22 + 1}}, ErrInvalidRequest},
		{"env key", Spec{Env: map[string]string{"1BAD": "x"}}, ErrInvalidRequest},
		{"traversal in relative source", Spec{Mounts: []Mount{{Source: "../x", Target: "/mnt/x", Access: ReadWrite}}}, ErrInvalidRequest},
		{"deep traversal in relative source", Spec{Mounts: []Mount{{Source: "work/../../x", Target: "/mnt/x", Access: ReadWrite}}}, ErrInvalidRequest},
		{"relative source is the root", Spec{Mounts: []Mount{{Source: ".", Target: "/mnt/x", Access: ReadWrite}}}, ErrInvalidRequest},
		{"NUL in source", Spec{Mounts: []Mount{{Source: "a\x00b", Target: "/mnt/x", Access: ReadWrite}}}, ErrInvalidRequest},
		{"invalid access", Spec{Mounts: []Mount{{Target: "/mnt/x", Access: "rw"}}}, ErrInvalidRequest},
		{"empty access", Spec{Mounts: []Mount{{Target: "/mnt/x"}}}, ErrInvalidRequest},
		{"blank session id", Spec{SessionID: "  "}, ErrInvalidRequest},
		{"session id with a slash", Spec{SessionID: "../escape"}, ErrInvalidRequest},
		{"invalid network mode", Spec{NetworkPolicy: NetworkPolicy{Mode: "open"}}, ErrNetworkPolicy},
		{"hosts with unrestricted", Spec{NetworkPolicy: NetworkPolicy{Mode: NetworkUnrestricted, AllowedHosts: []string{"a.example"}}}, ErrNetworkPolicy},
		{"invalid host", Spec{NetworkPolicy: AllowHosts("bad host")}, ErrNetworkPolicy},
		{"negative wall time", Spec{Limits: Limits{WallTime: -1}}, ErrInvalidRequest},
		{"unknown profile", Spec{Profile: "yolo"}, ErrInvalidRequest},
		{"absolute source is a file", Spec{Mounts: []Mount{{Source: fileIn(t, outside, "plain"), Target: "/mnt/x", Access: ReadOnly}}}, ErrInvalidRequest},
		{"new absolute source, then a bad mount", Spec{Mounts: []Mount{
			{Source: filepath.Join(outside, "made"), Target: "/mnt/made", Access: ReadWrite},
			{Source: "../x", Target: "/mnt/x", Access: ReadWrite},
		}}, ErrInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, root := newLocal(t)
			spec := c.spec
			if spec.NetworkPolicy.Mode == "" && len(spec.NetworkPolicy.AllowedHosts) == 0 {
				spec.NetworkPolicy = AllowAll()
			}
			sess, err := l.Provision(context.Background(), spec)
			if err == nil {
				l.Terminate(context.Background(), sess.ID)
			}
			checkErr(t, err, c.kind)
			entries, rerr := os.ReadDir(root)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if len(entries) != 0 {
				t.Errorf("RootDir not empty after a failed Provision: %d entries, first %q", len(entries), entries[0].Name())
			}
		})
	}
	// Nothing a failed Provision created outside the root is left either.
	if _, err := os.Stat(filepath.Join(outside, "made")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed Provision left %s behind (stat: %v)", filepath.Join(outside, "made"), err)
	}
}

// An absolute mount source is created with its missing parents; a failed
// Provision must remove all of them, not only the last one.
func TestFailedProvisionRemovesCreatedParents(t *testing.T) {
	outside := t.TempDir()
	l, root := newLocal(t)
	_, err := l.Provision(context.Background(), Spec{NetworkPolicy: AllowAll(), Mounts: []Mount{
		{Source: filepath.Join(outside, "made", "deeper"), Target: "/mnt/made", Access: ReadWrite},
		{Source: "../x", Target: "/mnt/x", Access: ReadWrite},
	}})
	checkErr(t, err, ErrInvalidRequest)
	assertNoEntries(t, root)
	assertNoEntries(t, outside)
}

// A refused AttachFilesystem leaves no directory behind either.
func TestFailedAttachRemovesCreatedParents(t *testing.T) {
	l, _ := newLocal(t)
	sess := anySession(t, l)
	if sess.Profile != OSHardened {
		t.Skip("needs a confined session: the refusal comes from the policy check")
	}
	// Read-only inside the session's workdir cannot be enforced: refused
	// after the source was created.
	_, err := l.AttachFilesystem(context.Background(), sess.ID, Mount{Source: "work/a/b", Target: "/mnt/ro", Access: ReadOnly})
	checkErr(t, err, ErrInvalidRequest)
	assertNoEntries(t, sess.Workdir)
}

func assertNoEntries(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s was left behind in %s", e.Name(), dir)
	}
}

func fileIn(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// anySession provisions a session that can run on this host: OSHardened
// where the host confines, Unrestricted elsewhere (request validation does
// not depend on the profile).
func anySession(t *testing.T, l *Local) *Session {
	t.Helper()
	spec := Spec{NetworkPolicy: AllowAll()}
	if !l.Capabilities().Enforcement.Filesystem.Enforced {
		spec.Profile = Unrestricted
	}
	sess, err := l.Provision(context.Background(), spec)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { l.Terminate(context.Background(), sess.ID) })
	return sess
}

func TestExecBadInput(t *testing.T) {
	l, _ := newLocal(t)
	sess := anySession(t, l)
	ok := ExecRequest{Command: "true"}
	with := func(f func(*ExecRequest)) ExecRequest { r := ok; f(&r); return r }
	cases := []struct {
		name string
		req  ExecRequest
	}{
		{"env key starts with a digit", with(func(r *ExecRequest) { r.Env = map[string]string{"1A": "x"} })},
		{"env key with a dash", with(func(r *ExecRequest) { r.Env = map[string]string{"A-B": "x"} })},
		{"empty env key", with(func(r *ExecRequest) { r.Env = map[string]string{"": "x"} })},
		{"env key with =", with(func(r *ExecRequest) { r.Env = map[string]string{"A=B": "x"} })},
		{"NUL in env key", with(func(r *ExecRequest) { r.Env = map[string]string{"A\x00": "x"} })},
		{"NUL in env value", with(func(r *ExecRequest) { r.Env = map[string]string{"A": "x\x00y"} })},
		{"NUL in an argument", with(func(r *ExecRequest) { r.Args = []string{"ok", "a\x00b"} })},
		{"NUL in the command", with(func(r *ExecRequest) { r.Command = "tr\x00ue" })},
		{"NUL in cwd", with(func(r *ExecRequest) { r.Cwd = "a\x00b" })},
		{"empty command", with(func(r *ExecRequest) { r.Command = "" })},
		{"blank command", with(func(r *ExecRequest) { r.Command = "  " })},
		{"cwd /etc", with(func(r *ExecRequest) { r.Cwd = "/etc" })},
		{"cwd ../../", with(func(r *ExecRequest) { r.Cwd = "../../" })},
		{"cwd / ", with(func(r *ExecRequest) { r.Cwd = "/" })},
		{"cwd the session root", with(func(r *ExecRequest) { r.Cwd = sess.Root })},
		{"cwd through a mount target upwards", with(func(r *ExecRequest) { r.Cwd = "/mnt/memory/../../etc" })},
		{"negative timeout", with(func(r *ExecRequest) { r.Timeout = -1 })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := l.Exec(context.Background(), sess.ID, c.req)
			checkErr(t, err, ErrInvalidRequest)
			if res != nil {
				t.Errorf("a refused request returned a result: %+v", res)
			}
		})
	}
	// The valid sibling runs.
	if res, err := l.Exec(context.Background(), sess.ID, ok); err != nil || res.ExitCode != 0 {
		t.Fatalf("valid request: %+v %v", res, err)
	}
}

func TestSessionNotFound(t *testing.T) {
	l, _ := newLocal(t)
	ctx := context.Background()
	const unknown SessionID = "never-provisioned"
	_, err := l.Exec(ctx, unknown, ExecRequest{Command: "true"})
	if e := checkErr(t, err, ErrSessionNotFound); e.Session != unknown {
		t.Errorf("error names session %q", e.Session)
	}
	_, err = l.AttachFilesystem(ctx, unknown, Mount{Target: "/mnt/x", Access: ReadWrite})
	checkErr(t, err, ErrSessionNotFound)
	checkErr(t, l.ApplyNetworkPolicy(ctx, unknown, AllowAll()), ErrSessionNotFound)
	_, err = l.Snapshot(ctx, unknown)
	checkErr(t, err, ErrSessionNotFound)
	_, err = l.Resume(ctx, unknown)
	checkErr(t, err, ErrSessionNotFound)
	checkErr(t, l.Terminate(ctx, unknown), ErrSessionNotFound)

	sess := anySession(t, l)
	if err := l.Terminate(ctx, sess.ID); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	_, err = l.Exec(ctx, sess.ID, ExecRequest{Command: "true"})
	checkErr(t, err, ErrSessionNotFound)
	checkErr(t, l.Terminate(ctx, sess.ID), ErrSessionNotFound)
	_, err = l.AttachFilesystem(ctx, sess.ID, Mount{Target: "/mnt/x", Access: ReadWrite})
	checkErr(t, err, ErrSessionNotFound)
}

func TestLiveSessionBadInput(t *testing.T) {
	l, _ := newLocal(t)
	sess := anySession(t, l)
	ctx := context.Background()
	for _, m := range []Mount{
		{Target: "relative", Access: ReadWrite},
		{Target: "/a/../b", Access: ReadWrite},
		{Target: "/", Access: ReadWrite},
		{Target: MemoryTarget, Access: ReadWrite},
		{Target: "/mnt/x", Access: "write"},
		{Source: "../../x", Target: "/mnt/x", Access: ReadWrite},
	} {
		_, err := l.AttachFilesystem(ctx, sess.ID, m)
		checkErr(t, err, ErrInvalidRequest)
	}
	err := l.ApplyNetworkPolicy(ctx, sess.ID, NetworkPolicy{Mode: "open"})
	checkErr(t, err, ErrNetworkPolicy)
	// The session still works.
	if res, err := l.Exec(ctx, sess.ID, ExecRequest{Command: "true"}); err != nil || res.ExitCode != 0 {
		t.Fatalf("session broken by refused changes: %+v %v", res, err)
	}
}
