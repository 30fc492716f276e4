package sandboxtest

// The filesystem cases: what a command may write and read.

import (
	"context"
	"slices"
	"strings"

	"github.com/go-sandbox/sandbox"
)

const noFS = "no FS hook (Options.Remote.FS) to plant or inspect files where the commands run"

func workspaceWrite(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	// One file by a name relative to where the command starts, one by
	// the workdir's path as the commands see it.
	tok, tok2 := token(), token()
	name, name2 := "sandboxtest-"+tok+".txt", "sandboxtest-"+tok2+".txt"
	work := k.workdir(s)
	r, err := k.sh(ctx, s.ID, `printf %s "$1" > "$2"; printf %s "$3" > "$4"`, tok, name, tok2, joinPath(work, name2))
	for _, f := range []struct{ guest, tok string }{{joinPath(work, name), tok}, {joinPath(work, name2), tok2}} {
		file := k.hostPath(s, f.guest)
		if got, rerr := k.fs.ReadFile(file); rerr != nil || string(got) != f.tok {
			return overRefused("%s (%s to the command) not written (%v); %s", file, f.guest, rerr, describe(r, err))
		}
	}
	return conforms("the command wrote in its workdir %s (%s), by a relative and an absolute path", work, s.Workdir)
}

func outsideWrite(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	tok := token()
	existing := joinPath(k.outside, "existing-"+tok)
	fresh := joinPath(k.outside, "new-"+tok)
	dir := joinPath(k.outside, "dir-"+tok)
	const orig = "original content\n"
	if err := k.fs.WriteFile(existing, []byte(orig)); err != nil {
		return notApplicable("planting %s: %v", existing, err)
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	r, err := k.sh(ctx, s.ID, `printf %s "$1" > "$2"; printf %s "$1" >> "$3"; mkdir "$4"; rm -f "$3"`, tok, fresh, existing, dir)
	var leaks []string
	if ok, _ := k.fs.Exists(fresh); ok {
		leaks = append(leaks, "created "+fresh)
	}
	if got, err := k.fs.ReadFile(existing); err != nil {
		leaks = append(leaks, "removed "+existing)
	} else if string(got) != orig {
		leaks = append(leaks, "modified "+existing)
	}
	if ok, _ := k.fs.Exists(dir); ok {
		leaks = append(leaks, "created directory "+dir)
	}
	if len(leaks) > 0 {
		return escaped("%s; %s", strings.Join(leaks, ", "), describe(r, err))
	}
	return conforms("no file created, modified or removed in %s; %s", k.outside, describe(r, err))
}

func outsideRead(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	// The file's name and its content are different tokens: an error
	// message naming the file must not count as a read.
	name, tok := token(), token()
	secret := joinPath(k.outside, "secret-"+name)
	if err := k.fs.WriteFile(secret, []byte(tok+"\n")); err != nil {
		return notApplicable("planting %s: %v", secret, err)
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	r, err := k.sh(ctx, s.ID, `cat "$1"; ls "$2"`, secret, k.outside)
	if strings.Contains(output(r), tok) {
		return escaped("the command read the sentinel in %s (mode 0644); %s", secret, describe(r, err))
	}
	if r != nil && strings.Contains(string(r.Stdout), name) {
		return escaped("the command listed %s; %s", k.outside, describe(r, err))
	}
	return conforms("%s (mode 0644) neither read nor listed; %s", secret, describe(r, err))
}

func systemRead(ctx context.Context, k *kit, c *tcase) Result {
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	file := k.opts.SystemFile
	r, err := k.sh(ctx, s.ID, `cat "$1"`, file)
	if r == nil || len(r.Stdout) == 0 {
		return overRefused("%s not read; %s", file, describe(r, err))
	}
	if k.fs != nil {
		want, rerr := k.fs.ReadFile(file)
		if rerr != nil {
			return notApplicable("the kit cannot read %s itself: %v", file, rerr)
		}
		if string(r.Stdout) != string(want) {
			return overRefused("read %d bytes of %s, want its %d bytes; %s", len(r.Stdout), file, len(want), describe(r, err))
		}
	}
	return conforms("read %s (%d bytes) through %s", file, len(r.Stdout), k.opts.Shell)
}

// roMount provisions a session with a read-only mount of a fresh outside
// directory holding ro.txt, and returns the host dir, the resolved mount
// and the content of ro.txt.
func (k *kit) roMount(ctx context.Context, c *tcase) (s *sandbox.Session, done func(), dir string, m sandbox.ResolvedMount, content string, res *Result) {
	fail := func(r Result) (*sandbox.Session, func(), string, sandbox.ResolvedMount, string, *Result) {
		return nil, nil, "", sandbox.ResolvedMount{}, "", &r
	}
	dir, err := k.fs.MkdirTemp(k.outside, "ro-")
	if err != nil {
		return fail(notApplicable("creating the mount source: %v", err))
	}
	content = token()
	if err := k.fs.WriteFile(joinPath(dir, "ro.txt"), []byte(content)); err != nil {
		return fail(notApplicable("planting ro.txt: %v", err))
	}
	const target = "/mnt/sandboxtest-ro"
	s, done, err = k.provision(ctx, sandbox.Spec{Mounts: []sandbox.Mount{{Source: dir, Target: target, Access: sandbox.ReadOnly}}})
	if err != nil {
		return fail(k.setupFailed(c, "provision with a read-only mount", err))
	}
	for _, rm := range s.Mounts {
		if rm.Target == target {
			m = rm
		}
	}
	if m.Target == "" {
		done()
		return fail(overRefused("the session does not list the mount %s", target))
	}
	if m.Access != sandbox.ReadOnly {
		done()
		return fail(escaped("the mount %s is %s, asked read_only", target, m.Access))
	}
	return s, done, dir, m, content, nil
}

func roMountWrite(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	s, done, dir, m, content, res := k.roMount(ctx, c)
	if res != nil {
		return *res
	}
	defer done()
	tok := token()
	// Through the path the commands see the mount at, and through its
	// source and its target too, where they differ from it (a view
	// that let a host path through, a backend that ignored the target).
	guest := k.guestPath(s, dir)
	r, err := k.sh(ctx, s.ID, `tok=$1; shift; for d in "$@"; do printf %s "$tok" > "$d/new-$tok"; printf %s "$tok" >> "$d/ro.txt"; mkdir "$d/dir-$tok"; done`,
		append([]string{tok}, distinct(guest, m.Source, m.Target)...)...)
	var leaks []string
	if ok, _ := k.fs.Exists(joinPath(dir, "new-"+tok)); ok {
		leaks = append(leaks, "created a file")
	}
	if ok, _ := k.fs.Exists(joinPath(dir, "dir-"+tok)); ok {
		leaks = append(leaks, "created a directory")
	}
	if got, _ := k.fs.ReadFile(joinPath(dir, "ro.txt")); string(got) != content {
		leaks = append(leaks, "modified ro.txt")
	}
	if len(leaks) > 0 {
		return escaped("in the read-only mount %s (%s): %s; %s", m.Target, dir, strings.Join(leaks, ", "), describe(r, err))
	}
	return conforms("nothing written in the read-only mount %s (%s); %s", m.Target, dir, describe(r, err))
}

func roMountRead(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	s, done, dir, m, content, res := k.roMount(ctx, c)
	if res != nil {
		return *res
	}
	defer done()
	guest := k.guestPath(s, dir)
	r, err := k.sh(ctx, s.ID, `cat "$1/ro.txt"`, guest)
	if r != nil && strings.Contains(string(r.Stdout), content) {
		return conforms("read the sentinel of ro.txt in the read-only mount %s at %s (%s)", m.Target, guest, dir)
	}
	return overRefused("ro.txt in the read-only mount %s not read at %s (%s); %s", m.Target, guest, dir, describe(r, err))
}

// writeTemp writes tok into $TMPDIR/sandboxtest-<name> in the session and
// returns the TMPDIR the command saw (a path the commands see).
func (k *kit) writeTemp(ctx context.Context, id sandbox.SessionID, name, tok string) (string, *sandbox.ExecResult, error) {
	r, err := k.sh(ctx, id, `[ -n "$TMPDIR" ] || exit 3; printf %s "$2" > "$TMPDIR/sandboxtest-$1" && printf %s "$TMPDIR"`, name, tok)
	if r == nil {
		return "", r, err
	}
	return strings.TrimSpace(string(r.Stdout)), r, err
}

func sessionTempWrite(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	name, tok := token(), token()
	tmp, r, err := k.writeTemp(ctx, s.ID, name, tok)
	if tmp == "" {
		return overRefused("no temp file written (TMPDIR unset or not writable); %s", describe(r, err))
	}
	guest := joinPath(tmp, "sandboxtest-"+name)
	file := k.hostPath(s, guest)
	if got, rerr := k.fs.ReadFile(file); rerr != nil || string(got) != tok {
		return overRefused("%s (%s to the command) not written (%v); %s", file, guest, rerr, describe(r, err))
	}
	return conforms("the command wrote %s in its TMPDIR (%s)", guest, file)
}

func otherSessionTempRead(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	a, b, done, failed := k.provisionTwo(ctx, c)
	if failed != nil {
		return *failed
	}
	defer done()
	name, tok := token(), token()
	tmpA, r, err := k.writeTemp(ctx, a.ID, name, tok)
	guestA := joinPath(tmpA, "sandboxtest-"+name)
	fileA := k.hostPath(a, guestA)
	if got, rerr := k.fs.ReadFile(fileA); tmpA == "" || rerr != nil || string(got) != tok {
		return overRefused("session A could not write its temp file, so the case cannot be set up; %s", describe(r, err))
	}
	// Session B looks for it by A's host path and in its own TMPDIR
	// (sessions with a view of their own see the same TMPDIR path, which
	// must not be the same directory).
	r, err = k.sh(ctx, b.ID, `cat "$1"; cat "$TMPDIR/sandboxtest-$2"`, fileA, name)
	if strings.Contains(output(r), tok) {
		return escaped("session %s read the temp file of session %s (%s, %s to A); %s", b.ID, a.ID, fileA, guestA, describe(r, err))
	}
	return conforms("session B read the temp file of session A neither at %s nor in its own TMPDIR; %s", fileA, describe(r, err))
}

// distinct is paths without repeats, in order.
func distinct(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
