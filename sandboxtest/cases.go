package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox"
)

func mechFilesystem(s sandbox.Enforcement) (string, sandbox.Mechanism) {
	return "filesystem confinement", s.Filesystem
}
func mechNetwork(s sandbox.Enforcement) (string, sandbox.Mechanism) {
	return "deny-all network", s.NetworkDenyAll
}
func mechProcessTree(s sandbox.Enforcement) (string, sandbox.Mechanism) {
	return "process tree containment", s.ProcessTree
}

// cases is the contract, in report order.
func (k *kit) cases() []tcase {
	return append(k.basicCases(), k.processCases()...)
}

func (k *kit) basicCases() []tcase {
	return []tcase{
		{name: "workspace_write_admitted", fn: workspaceWrite},
		{name: "outside_write_refused", refusal: true, mech: mechFilesystem, fn: outsideWrite},
		{name: "outside_read_refused", refusal: true, mech: mechFilesystem, fn: outsideRead},
		{name: "system_read_admitted", fn: systemRead},
		{name: "ro_mount_write_refused", refusal: true, mech: mechFilesystem, fn: roMountWrite},
		{name: "ro_mount_read_admitted", fn: roMountRead},
		{name: "session_temp_write_admitted", fn: sessionTempWrite},
		{name: "other_session_temp_read_refused", refusal: true, mech: mechFilesystem, fn: otherSessionTempRead},
		{name: "undeclared_env_withheld", refusal: true, fn: undeclaredEnv},
		{name: "declared_env_delivered", fn: declaredEnv},
		{name: "network_denyall_refused", refusal: true, mech: mechNetwork, fn: networkDenyAll},
		{name: "network_unrestricted_admitted", fn: networkUnrestricted},
		{name: "timeout_kills_and_reports", fn: timeoutKills},
		{name: "output_cap_truncates", fn: outputCap},
		{name: "terminate_leaves_nothing", refusal: true, mech: mechProcessTree, fn: terminateLeavesNothing},
		{name: "unknown_session_not_found", fn: unknownSession},
		{name: "exec_after_terminate_not_found", fn: execAfterTerminate},
	}
}

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

func undeclaredEnv(ctx context.Context, k *kit, c *tcase) Result {
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	// A variable of this run's own (Run may be called in parallel): set
	// in the host process, never named in a request.
	tok := token()
	name := "SANDBOXTEST_HOST_" + strings.ToUpper(tok)
	if err := os.Setenv(name, tok); err != nil {
		return notApplicable("setting %s: %v", name, err)
	}
	defer os.Unsetenv(name)
	r, err := k.sh(ctx, s.ID, `env 2>/dev/null || export -p`)
	if r == nil || len(r.Stdout) == 0 {
		return overRefused("the environment could not be listed; %s", describe(r, err))
	}
	if strings.Contains(output(r), tok) {
		return escaped("the host variable %s reached the command", name)
	}
	return conforms("the host variable %s was withheld (%d variables seen)", name, strings.Count(string(r.Stdout), "\n"))
}

func declaredEnv(ctx context.Context, k *kit, c *tcase) Result {
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	tok := token()
	r, err := k.shReq(ctx, s.ID, sandbox.ExecRequest{Env: map[string]string{"SANDBOXTEST_DECLARED": tok}}, `printf %s "$SANDBOXTEST_DECLARED"`)
	if r != nil && string(r.Stdout) == tok {
		return conforms("the declared variable SANDBOXTEST_DECLARED was delivered")
	}
	return overRefused("the declared variable SANDBOXTEST_DECLARED was not delivered; %s", describe(r, err))
}

// tcpClient dials $1:$2 and prints what the server sends, with the first
// TCP client the session has.
const tcpClient = `h=$1 p=$2
if command -v bash >/dev/null 2>&1; then
	exec bash -c 'exec 3<>"/dev/tcp/$0/$1" && cat <&3' "$h" "$p"
elif command -v python3 >/dev/null 2>&1; then
	exec python3 -c 'import socket,sys; s=socket.create_connection((sys.argv[1],int(sys.argv[2])),5); sys.stdout.write(s.recv(200).decode())' "$h" "$p"
elif command -v perl >/dev/null 2>&1; then
	exec perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(PeerAddr=>$ARGV[0],PeerPort=>$ARGV[1],Timeout=>5) or die "connect: $!\n"; print <$s>' "$h" "$p"
elif command -v curl >/dev/null 2>&1; then
	exec curl -s -m 5 "telnet://$h:$p" </dev/null
fi
echo SANDBOXTEST_NO_TCP_CLIENT >&2
exit 127`

// dial starts a listener and lets a command of a session with policy p
// dial it. It returns whether the server accepted a connection and whether
// the command read the banner.
func (k *kit) dial(ctx context.Context, c *tcase, p sandbox.NetworkPolicy) (accepted, read bool, detail string, res *Result) {
	if k.listen == nil {
		r := notApplicable("no Listen hook (Options.Remote.Listen) to start a server the commands can reach")
		return false, false, "", &r
	}
	tok := token()
	ln, err := k.listen(ctx, tok)
	if err != nil {
		r := notApplicable("starting the kit's server: %v", err)
		return false, false, "", &r
	}
	defer ln.Close()
	s, done, err := k.provision(ctx, sandbox.Spec{NetworkPolicy: p})
	if err != nil {
		r := k.setupFailed(c, "provision with network "+string(p.Mode), err)
		return false, false, "", &r
	}
	defer done()
	host, port := ln.Address()
	r, err := k.shReq(ctx, s.ID, sandbox.ExecRequest{Timeout: 15 * time.Second}, tcpClient, host, port)
	if strings.Contains(output(r), "SANDBOXTEST_NO_TCP_CLIENT") {
		na := notApplicable("no TCP client (bash, python3, perl, curl) in the session")
		return false, false, "", &na
	}
	read = strings.Contains(output(r), tok)
	if !read {
		// A connection the command made but could not read from is
		// counted by the server a moment later.
		time.Sleep(50 * time.Millisecond)
	}
	return ln.Accepted() > 0, read, fmt.Sprintf("server %s:%s; %s", host, port, describe(r, err)), nil
}

func networkDenyAll(ctx context.Context, k *kit, c *tcase) Result {
	accepted, read, detail, res := k.dial(ctx, c, sandbox.DenyAll())
	if res != nil {
		return *res
	}
	if accepted || read {
		return escaped("under deny-all the command reached the loopback server (accepted %v, banner read %v); %s", accepted, read, detail)
	}
	return conforms("under deny-all the loopback server saw no connection; %s", detail)
}

func networkUnrestricted(ctx context.Context, k *kit, c *tcase) Result {
	accepted, read, detail, res := k.dial(ctx, c, sandbox.AllowAll())
	if res != nil {
		return *res
	}
	if accepted && read {
		return conforms("under unrestricted the command read the loopback server's banner")
	}
	return overRefused("under unrestricted the command did not reach the loopback server (accepted %v, banner read %v); %s", accepted, read, detail)
}

// lingering is a script that leaves a background shell and sleeps, both
// carrying $1 in their command lines.
const lingering = `sh -c 'sleep 60; : "$1"' sh "$1" & sleep 60; : "$1"`

// countProcesses reports how many processes carry marker, or -1 when the
// kit cannot tell.
func (k *kit) countProcesses(ctx context.Context, marker string) int {
	if k.processes == nil {
		return -1
	}
	n, err := k.processes(ctx, marker)
	if err != nil {
		return -1
	}
	return n
}

func timeoutKills(ctx context.Context, k *kit, c *tcase) Result {
	s, done, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	marker := token()
	const timeout = time.Second
	began := time.Now()
	r, err := k.shReq(ctx, s.ID, sandbox.ExecRequest{Timeout: timeout}, lingering, marker)
	took := time.Since(began)
	if r == nil {
		return k.setupFailed(c, "exec", err)
	}
	if !r.TimedOut {
		return escaped("a 60s command with a %v timeout was not reported as timed out after %v; %s", timeout, took.Round(time.Millisecond), describe(r, err))
	}
	if took > timeout+10*time.Second {
		return escaped("the timed-out command took %v to return (timeout %v)", took.Round(time.Millisecond), timeout)
	}
	n := k.countProcesses(ctx, marker)
	if n > 0 {
		waitFor(ctx, 3*time.Second, func() bool { n = k.countProcesses(ctx, marker); return n == 0 })
	}
	if n > 0 {
		return escaped("%d process(es) of the timed-out command still run", n)
	}
	check := "no process left"
	if n < 0 {
		check = "process check not available"
	}
	return conforms("timed out and returned after %v (reason %q); %s", took.Round(time.Millisecond), r.Reason, check)
}

func outputCap(ctx context.Context, k *kit, c *tcase) Result {
	const limit = 1000
	s, done, err := k.provision(ctx, sandbox.Spec{Limits: sandbox.Limits{MaxOutputBytes: limit}})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	defer done()
	r, err := k.sh(ctx, s.ID, `head -c 100000 /dev/zero | tr '\0' o; head -c 100000 /dev/zero | tr '\0' e >&2`)
	if r == nil {
		return overRefused("%s", describe(r, err))
	}
	for _, st := range []struct {
		name      string
		got       []byte
		truncated bool
		ch        byte
	}{{"stdout", r.Stdout, r.StdoutTruncated, 'o'}, {"stderr", r.Stderr, r.StderrTruncated, 'e'}} {
		switch {
		case len(st.got) > limit:
			return escaped("%s kept %d bytes over a cap of %d", st.name, len(st.got), limit)
		case len(st.got) < limit:
			return overRefused("%s kept %d bytes of 100000 under a cap of %d; %s", st.name, len(st.got), limit, describe(r, err))
		case !st.truncated:
			return escaped("%s was cut to %d bytes but not reported as truncated", st.name, limit)
		case strings.Trim(string(st.got), string(st.ch)) != "":
			return escaped("%s kept bytes the command did not write", st.name)
		}
	}
	return conforms("stdout and stderr (100000 bytes each) cut to %d bytes and reported truncated", limit)
}

func terminateLeavesNothing(ctx context.Context, k *kit, c *tcase) Result {
	s, _, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	marker := token()
	execDone := make(chan struct{})
	var execErr error
	go func() {
		defer close(execDone)
		_, execErr = k.shReq(ctx, s.ID, sandbox.ExecRequest{Timeout: 60 * time.Second}, `: > left-behind; `+lingering, marker)
	}()
	// Let the command start (and fork) before terminating.
	if k.countProcesses(ctx, marker) >= 0 {
		if !waitFor(ctx, 10*time.Second, func() bool { return k.countProcesses(ctx, marker) >= 2 }) {
			k.b.Terminate(context.WithoutCancel(ctx), s.ID)
			<-execDone
			return overRefused("the command did not start within 10s: %v", execErr)
		}
	} else {
		time.Sleep(500 * time.Millisecond)
	}
	termErr := k.b.Terminate(ctx, s.ID)
	var leaks []string
	select {
	case <-execDone:
	case <-time.After(10 * time.Second):
		leaks = append(leaks, "the running Exec did not return within 10s of Terminate")
	}
	n := k.countProcesses(ctx, marker)
	if n > 0 {
		waitFor(ctx, 3*time.Second, func() bool { n = k.countProcesses(ctx, marker); return n == 0 })
	}
	if n > 0 {
		leaks = append(leaks, fmt.Sprintf("%d process(es) survived", n))
	}
	if k.fs != nil && s.Root != "" {
		if ok, _ := k.fs.Exists(s.Root); ok {
			leaks = append(leaks, "the session root "+s.Root+" remains")
		}
	}
	if _, err := k.b.Snapshot(ctx, s.ID); !errors.Is(err, sandbox.ErrSessionNotFound) {
		leaks = append(leaks, fmt.Sprintf("Snapshot after Terminate answered %v, want ErrSessionNotFound", err))
	}
	if len(leaks) > 0 {
		return escaped("%s (terminate: %v)", strings.Join(leaks, "; "), termErr)
	}
	if termErr != nil {
		return overRefused("Terminate failed: %v", termErr)
	}
	var checks []string
	if n == 0 {
		checks = append(checks, "no process left")
	}
	if k.fs != nil && s.Root != "" {
		checks = append(checks, "root removed")
	}
	checks = append(checks, "the running Exec returned", "the id is forgotten")
	return conforms("%s", strings.Join(checks, ", "))
}

// notFound judges an answer that must be ErrSessionNotFound.
func notFound(call string, err error) (string, bool) {
	switch {
	case err == nil:
		return call + " succeeded", false
	case !errors.Is(err, sandbox.ErrSessionNotFound):
		return fmt.Sprintf("%s answered %v, want ErrSessionNotFound", call, err), false
	}
	return "", true
}

func unknownSession(ctx context.Context, k *kit, c *tcase) Result {
	id := sandbox.SessionID("sandboxtest-unknown-" + token())
	var bad []string
	if _, err := k.b.Exec(ctx, id, sandbox.ExecRequest{Command: k.opts.Shell, Args: []string{"-c", ":"}}); err != nil {
		if msg, ok := notFound("Exec", err); !ok {
			bad = append(bad, msg)
		}
	} else {
		bad = append(bad, "Exec ran a command in a session that does not exist")
	}
	if msg, ok := notFound("Terminate", k.b.Terminate(ctx, id)); !ok {
		bad = append(bad, msg)
	}
	if len(bad) > 0 {
		return escaped("unknown id %s: %s", id, strings.Join(bad, "; "))
	}
	return conforms("Exec and Terminate of an unknown id answer ErrSessionNotFound")
}

func execAfterTerminate(ctx context.Context, k *kit, c *tcase) Result {
	s, _, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		return k.setupFailed(c, "provision", err)
	}
	if err := k.b.Terminate(ctx, s.ID); err != nil {
		return overRefused("Terminate: %v", err)
	}
	var bad []string
	if _, err := k.b.Exec(ctx, s.ID, sandbox.ExecRequest{Command: k.opts.Shell, Args: []string{"-c", ":"}}); err == nil {
		bad = append(bad, "Exec ran a command in a terminated session")
	} else if msg, ok := notFound("Exec", err); !ok {
		bad = append(bad, msg)
	}
	if msg, ok := notFound("a second Terminate", k.b.Terminate(ctx, s.ID)); !ok {
		bad = append(bad, msg)
	}
	if len(bad) > 0 {
		return escaped("%s", strings.Join(bad, "; "))
	}
	return conforms("Exec and a second Terminate after Terminate answer ErrSessionNotFound")
}
