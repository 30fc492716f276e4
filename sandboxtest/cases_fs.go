package sandboxtest

// The filesystem cases: what a command may write and read.

import (
	"context"
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
	tok := token()
	name := "sandboxtest-" + tok + ".txt"
	r, err := k.sh(ctx, s.ID, `printf %s "$1" > "$2"`, tok, name)
	file := joinPath(s.Workdir, name)
	got, rerr := k.fs.ReadFile(file)
	if rerr == nil && string(got) == tok {
		return conforms("the command wrote %s", file)
	}
	return overRefused("%s not written (%v); %s", file, rerr, describe(r, err))
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
	// Through the host path (the local backend has no mount namespace)
	// and through the guest target (backends that have one).
	r, err := k.sh(ctx, s.ID, `for d in "$1" "$2"; do printf %s "$3" > "$d/new-$3"; printf %s "$3" >> "$d/ro.txt"; mkdir "$d/dir-$3"; done`, m.Source, m.Target, tok)
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
	r, err := k.sh(ctx, s.ID, `cat "$1/ro.txt" 2>/dev/null || cat "$2/ro.txt"`, m.Source, m.Target)
	if r != nil && strings.Contains(string(r.Stdout), content) {
		return conforms("read the sentinel of ro.txt in the read-only mount %s (%s)", m.Target, dir)
	}
	return overRefused("ro.txt in the read-only mount %s (%s) not read; %s", m.Target, dir, describe(r, err))
}

// writeTemp writes tok into $TMPDIR/sandboxtest-<name> in the session and
// returns the TMPDIR the command saw.
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
	file := joinPath(tmp, "sandboxtest-"+name)
	if got, rerr := k.fs.ReadFile(file); rerr != nil || string(got) != tok {
		return overRefused("%s not written (%v); %s", file, rerr, describe(r, err))
	}
	return conforms("the command wrote %s in its TMPDIR", file)
}

func otherSessionTempRead(ctx context.Context, k *kit, c *tcase) Result {
	if k.fs == nil {
		return notApplicable(noFS)
	}
	a, doneA, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision session A", err)
	}
	defer doneA()
	b, doneB, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision session B", err)
	}
	defer doneB()
	name, tok := token(), token()
	tmpA, r, err := k.writeTemp(ctx, a.ID, name, tok)
	fileA := joinPath(tmpA, "sandboxtest-"+name)
	if got, rerr := k.fs.ReadFile(fileA); tmpA == "" || rerr != nil || string(got) != tok {
		return overRefused("session A could not write its temp file, so the case cannot be set up; %s", describe(r, err))
	}
	r, err = k.sh(ctx, b.ID, `printf 'tmpdir=%s\n' "$TMPDIR"; cat "$1"`, fileA)
	out := output(r)
	if strings.Contains(out, "tmpdir="+tmpA+"\n") {
		return escaped("sessions %s and %s share TMPDIR %s", a.ID, b.ID, tmpA)
	}
	if strings.Contains(out, tok) {
		return escaped("session %s read %s of session %s; %s", b.ID, fileA, a.ID, describe(r, err))
	}
	return conforms("session B did not read %s of session A; %s", fileA, describe(r, err))
}
