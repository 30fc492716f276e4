package sandboxtest

// The cases of a session's own view, for backends that report one
// (Capabilities().Enforcement.View): commands name files by guest paths
// (mount targets, the canonical outputs directory), and host paths are
// not theirs.

import (
	"context"
	"strings"

	"github.com/go-sandbox/sandbox"
)

func mechView(s sandbox.Enforcement) (string, sandbox.Mechanism) {
	return "a session view of its own", s.View
}

func (k *kit) viewCases() []tcase {
	return []tcase{
		{name: "view_mount_target_read_admitted", view: true, mech: mechView, fn: viewMountTargetRead},
		{name: "view_mount_source_read_refused", view: true, refusal: true, mech: mechView, fn: viewMountSourceRead},
		{name: "view_outputs_write_admitted", view: true, mech: mechView, fn: viewOutputsWrite},
		{name: "view_other_session_outputs_read_refused", view: true, refusal: true, mech: mechView, fn: viewOtherSessionOutputsRead},
	}
}

// viewTarget is where the view cases mount their directory.
const viewTarget = "/mnt/sandboxtest-view"

// viewMount provisions a session with a read-only mount at viewTarget of a
// fresh outside directory holding a file with a sentinel, and returns the
// host path of the file and the sentinel.
func (k *kit) viewMount(ctx context.Context, c *tcase) (s *sandbox.Session, done func(), file, content string, res *Result) {
	fail := func(r Result) (*sandbox.Session, func(), string, string, *Result) { return nil, nil, "", "", &r }
	if k.fs == nil {
		return fail(notApplicable(noFS))
	}
	dir, err := k.fs.MkdirTemp(k.outside, "view-")
	if err != nil {
		return fail(notApplicable("creating the mount source: %v", err))
	}
	content, file = token(), joinPath(dir, "in.txt")
	if err := k.fs.WriteFile(file, []byte(content+"\n")); err != nil {
		return fail(notApplicable("planting %s: %v", file, err))
	}
	s, done, err = k.provision(ctx, sandbox.Spec{Mounts: []sandbox.Mount{{Source: dir, Target: viewTarget, Access: sandbox.ReadOnly}}})
	if err != nil {
		return fail(k.setupFailed(c, "provision with a read-only mount", err))
	}
	return s, done, file, content, nil
}

func viewMountTargetRead(ctx context.Context, k *kit, c *tcase) Result {
	s, done, file, content, res := k.viewMount(ctx, c)
	if res != nil {
		return *res
	}
	defer done()
	guest := joinPath(viewTarget, "in.txt")
	r, err := k.sh(ctx, s.ID, `cat "$1"`, guest)
	if r != nil && strings.Contains(string(r.Stdout), content) {
		return conforms("the command read %s (the kit planted it at %s)", guest, file)
	}
	return overRefused("%s (planted at %s) not read at its mount target; %s", guest, file, describe(r, err))
}

func viewMountSourceRead(ctx context.Context, k *kit, c *tcase) Result {
	s, done, file, content, res := k.viewMount(ctx, c)
	if res != nil {
		return *res
	}
	defer done()
	// The mount's source is a host path: the command sees the file at
	// the target only (the admitted sibling reads it there).
	r, err := k.sh(ctx, s.ID, `cat "$1"`, file)
	if strings.Contains(output(r), content) {
		return escaped("the command read the mount's source %s by its host path; %s", file, describe(r, err))
	}
	return conforms("the mount's source %s is not reachable by its host path; %s", file, describe(r, err))
}

// writeOutputs writes tok into sandbox.OutputsTarget/<name>, named by its
// guest path, in the session.
func (k *kit) writeOutputs(ctx context.Context, id sandbox.SessionID, name, tok string) (*sandbox.ExecResult, error) {
	return k.sh(ctx, id, `printf %s "$2" > "$1"`, joinPath(sandbox.OutputsTarget, name), tok)
}

func viewOutputsWrite(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	name, tok := "sandboxtest-"+token(), token()
	r, err := k.writeOutputs(ctx, s.ID, name, tok)
	guest := joinPath(sandbox.OutputsTarget, name)
	file := k.hostPath(s, guest)
	if got, rerr := k.fs.ReadFile(file); rerr != nil || string(got) != tok {
		return overRefused("%s written by the command not found at %s (%v); %s", guest, file, rerr, describe(r, err))
	}
	return conforms("the command wrote %s, found at %s", guest, file)
}

func viewOtherSessionOutputsRead(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	a, b, done, failed := k.provisionTwo(ctx, c)
	if failed != nil {
		return *failed
	}
	defer done()
	name, tok := "sandboxtest-"+token(), token()
	r, err := k.writeOutputs(ctx, a.ID, name, tok)
	guest := joinPath(sandbox.OutputsTarget, name)
	fileA := k.hostPath(a, guest)
	if got, rerr := k.fs.ReadFile(fileA); rerr != nil || string(got) != tok {
		return overRefused("session A could not write %s, so the case cannot be set up; %s", guest, describe(r, err))
	}
	// The same guest path in session B, and A's host path.
	r, err = k.sh(ctx, b.ID, `cat "$1"; cat "$2"`, guest, fileA)
	if strings.Contains(output(r), tok) {
		return escaped("session %s read %s of session %s (%s); %s", b.ID, guest, a.ID, fileA, describe(r, err))
	}
	return conforms("session B read %s of session A neither at that path nor at %s; %s", guest, fileA, describe(r, err))
}
