// Package sandboxtest is the conformance kit for [sandbox.Backend]
// implementations, and helpers for unit tests of code that runs tools.
//
// [Run] (in a test) and [Check] (anywhere) run the contract against a
// backend. Cases come in pairs, a refusal and its admitted sibling, so that
// a backend that refuses everything fails as surely as one that refuses
// nothing:
//
//	workspace_write_admitted        outside_write_refused
//	system_read_admitted            outside_read_refused
//	ro_mount_read_admitted          ro_mount_write_refused
//	session_temp_write_admitted     other_session_temp_read_refused
//	declared_env_delivered          undeclared_env_withheld
//	network_unrestricted_admitted   network_denyall_refused
//
// followed by timeout_kills_and_reports, output_cap_truncates,
// terminate_leaves_nothing, unknown_session_not_found and
// exec_after_terminate_not_found, and, for a [sandbox.ProcessBackend],
// background_process_answers_later_exec, background_terminate_leaves_nothing,
// terminal_is_a_tty and terminal_resize_reaches_command. For a backend
// that reports a session view of its own (Enforcement.View), two more
// pairs check that commands use guest paths:
//
//	view_mount_target_read_admitted   view_mount_source_read_refused
//	view_outputs_write_admitted       view_other_session_outputs_read_refused
//
// Every case is judged by its effect (a sentinel value read or not, a file
// present or not, a connection accepted or not, a process alive or not),
// never by an exit code alone.
//
// # Host paths and guest paths
//
// The kit plants and inspects files by the paths of the machine where the
// commands run, and names them to commands by the paths the commands see:
// a mount at its target where the session has a view of its own, and the
// session's directories as its commands see them, mapped with
// [sandbox.Session.GuestPath] and [sandbox.Session.HostPath] (through the
// session's mounts for a backend whose commands run elsewhere). A backend
// whose commands see host paths (no view) gets the same cases with host
// paths.
//
// A case the backend says it cannot enforce (an ErrUnsupported answer, or
// its Capabilities().Enforcement marking the mechanism not enforced) is
// NotMeasured, with the reason: never a pass.
//
// # Backends on this host and remote backends
//
// With zero [Options] the kit plants its "outside" files in a fresh
// directory under os.TempDir() (mode 0755, files 0644, so a refusal means
// something as root and as an unprivileged user), starts its TCP server on
// 127.0.0.1:0, and looks for leftover processes in /proc. A backend whose
// commands run elsewhere sets [Options.Remote] with the hooks that do the
// same on its machine; the cases whose hooks are missing are NotApplicable.
package sandboxtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
)

// Check runs every case against backend and returns the report. The error
// is for the kit's own failures (it could not create its outside directory
// or its server); what the backend does is in the report.
func Check(ctx context.Context, backend sandbox.Backend, opts Options) (Report, error) {
	k, err := newKit(ctx, backend, opts)
	if err != nil {
		return Report{Backend: backend.Name()}, err
	}
	defer k.close()
	rep := Report{Backend: backend.Name(), Notes: k.notes}
	for _, c := range k.cases() {
		rep.Results = append(rep.Results, k.run(ctx, c))
	}
	return rep, nil
}

// Run runs every case as a subtest of t, fails the subtests whose case
// escaped or was over-refused, logs the cases not measured, skips the ones
// not applicable, and logs the whole report at the end.
func Run(t *testing.T, backend sandbox.Backend, opts Options) Report {
	t.Helper()
	k, err := newKit(t.Context(), backend, opts)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	defer k.close()
	rep := Report{Backend: backend.Name(), Notes: k.notes}
	for _, c := range k.cases() {
		t.Run(c.name, func(t *testing.T) {
			res := k.run(t.Context(), c)
			rep.Results = append(rep.Results, res)
			switch res.Verdict {
			case Escaped, OverRefused:
				t.Errorf("%s: %s", res.Verdict, res.Detail)
			case NotMeasured:
				t.Logf("not measured (never a pass): %s", res.Detail)
			case NotApplicable:
				t.Skipf("not applicable: %s", res.Detail)
			default:
				t.Logf("%s: %s", res.Verdict, res.Detail)
			}
		})
	}
	t.Log("\n" + rep.String())
	return rep
}

// kit is the state one run shares across its cases.
type kit struct {
	b         sandbox.Backend
	opts      Options
	support   sandbox.Enforcement // the backend's Enforcement report
	fs        FS
	listen    func(context.Context, string) (Listener, error)
	processes func(context.Context, string) (int, error)
	outside   string // the kit's outside directory; "" without an FS
	network   sandbox.NetworkPolicy
	notes     []string
}

func newKit(ctx context.Context, b sandbox.Backend, opts Options) (*kit, error) {
	if opts.Shell == "" {
		opts.Shell = "/bin/sh"
	}
	if opts.SystemFile == "" {
		opts.SystemFile = "/etc/passwd"
	}
	if opts.CaseTimeout <= 0 {
		opts.CaseTimeout = 60 * time.Second
	}
	k := &kit{b: b, opts: opts, support: b.Capabilities().Enforcement}
	if r := opts.Remote; r != nil {
		k.fs, k.listen, k.processes = r.FS, r.Listen, r.Processes
		k.notes = append(k.notes, "remote backend: judged through Options.Remote")
	} else {
		k.fs, k.listen, k.processes = hostFS{}, ListenHost, HostProcesses
		if _, err := HostProcesses(ctx, "\x00"); err != nil {
			k.processes = nil
			k.notes = append(k.notes, "no /proc on this host: process checks judge by the backend's answers only")
		}
	}
	if k.fs != nil {
		d, err := k.fs.MkdirTemp(opts.OutsideDir, "sandboxtest-outside-")
		if err != nil {
			return nil, fmt.Errorf("creating the outside directory: %w", err)
		}
		k.outside = d
	}
	k.network = k.chooseNetwork(ctx)
	return k, nil
}

// chooseNetwork picks the network policy of the sessions whose case is not
// about the network: deny-all when the backend provisions it, unrestricted
// (with a note) when it answers ErrUnsupported.
func (k *kit) chooseNetwork(ctx context.Context) sandbox.NetworkPolicy {
	s, err := k.b.Provision(ctx, sandbox.Spec{NetworkPolicy: sandbox.DenyAll(), Labels: map[string]string{"sandboxtest": "probe"}})
	if err == nil {
		k.b.Terminate(context.WithoutCancel(ctx), s.ID)
		return sandbox.DenyAll()
	}
	if errors.Is(err, sandbox.ErrUnsupported) {
		k.notes = append(k.notes, "the backend refuses deny-all network ("+err.Error()+"): cases not about the network run with an unrestricted network")
		return sandbox.AllowAll()
	}
	return sandbox.DenyAll() // the cases will report the error
}

func (k *kit) close() {
	if k.fs != nil && k.outside != "" {
		k.fs.RemoveAll(k.outside)
	}
}

// tcase is one case of the contract.
type tcase struct {
	name string
	// mech, when set, names the mechanism the case relies on in the
	// backend's Enforcement report.
	mech func(sandbox.Enforcement) (string, sandbox.Mechanism)
	// refusal cases that conform become NotMeasured when the backend
	// reports the mechanism as not enforced.
	refusal bool
	// view cases run only for a backend that reports a session view of
	// its own (Enforcement.View); for the others they are NotMeasured.
	view bool
	fn   func(ctx context.Context, k *kit, c *tcase) Result
}

// run runs c with the case timeout, applying Skip and the Enforcement
// report.
func (k *kit) run(ctx context.Context, c tcase) Result {
	if slices.Contains(k.opts.Skip, c.name) {
		return Result{Case: c.name, Verdict: NotApplicable, Detail: "skipped by Options.Skip"}
	}
	if c.view && !k.support.View.Enforced {
		reason := k.support.View.Reason
		if reason == "" {
			reason = "no reason given"
		}
		return Result{Case: c.name, Verdict: NotMeasured,
			Detail: "the backend reports no session view of its own (" + reason + "): commands are not held to guest paths"}
	}
	ctx, cancel := context.WithTimeout(ctx, k.opts.CaseTimeout)
	defer cancel()
	res := c.fn(ctx, k, &c)
	res.Case = c.name
	if res.Verdict == Conforms && c.refusal && c.mech != nil && k.support.OS != "" {
		what, m := c.mech(k.support)
		if !m.Enforced {
			res = Result{Case: c.name, Verdict: NotMeasured,
				Detail: fmt.Sprintf("the backend reports %s not enforced (%s); the effect was refused anyway: %s", what, m.Reason, res.Detail)}
		}
	}
	return res
}

// verdict helpers.
func conforms(format string, a ...any) Result {
	return Result{Verdict: Conforms, Detail: fmt.Sprintf(format, a...)}
}
func escaped(format string, a ...any) Result {
	return Result{Verdict: Escaped, Detail: fmt.Sprintf(format, a...)}
}
func overRefused(format string, a ...any) Result {
	return Result{Verdict: OverRefused, Detail: fmt.Sprintf(format, a...)}
}
func notApplicable(format string, a ...any) Result {
	return Result{Verdict: NotApplicable, Detail: fmt.Sprintf(format, a...)}
}

// setupFailed turns an error from a call that sets a case up into a
// verdict: ErrUnsupported (plus the Enforcement report's reason) is
// NotMeasured, anything else OverRefused, since the request was valid.
func (k *kit) setupFailed(c *tcase, step string, err error) Result {
	if errors.Is(err, sandbox.ErrUnsupported) {
		detail := fmt.Sprintf("%s: %v", step, err)
		if c.mech != nil && k.support.OS != "" {
			if what, m := c.mech(k.support); !m.Enforced {
				detail = fmt.Sprintf("the backend reports %s not enforced (%s); %s", what, m.Reason, detail)
			}
		}
		return Result{Verdict: NotMeasured, Detail: detail}
	}
	return overRefused("%s: %v", step, err)
}

// provision creates a session for a case; a zero network policy in spec
// takes the kit's choice. The session is terminated by the returned func.
func (k *kit) provision(ctx context.Context, spec sandbox.Spec) (*sandbox.Session, func(), error) {
	if spec.NetworkPolicy.Mode == "" {
		spec.NetworkPolicy = k.network
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{"sandboxtest": "case"}
	}
	s, err := k.b.Provision(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { k.b.Terminate(context.WithoutCancel(ctx), s.ID) }, nil
}

// provisionTwo provisions sessions A and B for a case about what one
// session can reach of another's; done terminates both. On failure it
// returns the case's result instead.
func (k *kit) provisionTwo(ctx context.Context, c *tcase) (a, b *sandbox.Session, done func(), failed *Result) {
	a, doneA, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		r := k.setupFailed(c, "provision session A", err)
		return nil, nil, nil, &r
	}
	b, doneB, err := k.provision(ctx, sandbox.Spec{})
	if err != nil {
		doneA()
		r := k.setupFailed(c, "provision session B", err)
		return nil, nil, nil, &r
	}
	return a, b, func() { doneB(); doneA() }, nil
}

// sh runs a script with positional arguments ($1, ...) in the session.
func (k *kit) sh(ctx context.Context, id sandbox.SessionID, script string, args ...string) (*sandbox.ExecResult, error) {
	return k.shReq(ctx, id, sandbox.ExecRequest{}, script, args...)
}

func (k *kit) shReq(ctx context.Context, id sandbox.SessionID, req sandbox.ExecRequest, script string, args ...string) (*sandbox.ExecResult, error) {
	req.Command = k.opts.Shell
	req.Args = append([]string{"-c", script, "sh"}, args...)
	if req.Timeout == 0 {
		req.Timeout = 30 * time.Second
	}
	return k.b.Exec(ctx, id, req)
}

// token is a fresh sentinel value: never on disk, in the environment or in
// a command line until the kit puts it there.
func token() string {
	var b [8]byte
	rand.Read(b[:])
	return "sbt" + hex.EncodeToString(b[:])
}

// joinPath joins paths as the commands see them (POSIX, also for remote
// backends).
func joinPath(elem ...string) string { return path.Join(elem...) }

// Paths: the kit plants and inspects files through its FS, by the paths of
// the machine where the commands run (host paths for this host), and names
// them to commands by the paths the commands see (guest paths). The two
// differ where a session has a view of its own (the local backend on
// Linux, a pod): Session.GuestPath and Session.HostPath map between them
// for sessions whose directories are on this host; for a backend whose
// commands run elsewhere (they answer ErrUnsupported) the kit maps through
// the session's mounts, whose targets are where the commands see their
// sources, and leaves other paths to the FS (see FS).

// guestPath is where the commands of s see the FS path host: through a
// mount or the session's own directories, or unchanged for a path outside
// the session (such as the kit's outside directory).
func (k *kit) guestPath(s *sandbox.Session, host string) string {
	g, err := s.GuestPath(host)
	if err == nil {
		return g
	}
	if errors.Is(err, sandbox.ErrUnsupported) {
		if m, ok := deepest(s.Mounts, host, func(m sandbox.ResolvedMount) string { return m.Source }); ok {
			return joinPath(m.Target, strings.TrimPrefix(host, m.Source))
		}
	}
	return host
}

// hostPath is the FS path of guest, a path the commands of s see: through
// a mount or the session's own directories; a guest path of a session
// whose commands run elsewhere and which no mount source holds is left to
// the FS, which resolves paths inside its sessions.
func (k *kit) hostPath(s *sandbox.Session, guest string) string {
	h, err := s.HostPath(guest)
	if err == nil {
		return h
	}
	if errors.Is(err, sandbox.ErrUnsupported) {
		if m, ok := deepest(s.Mounts, guest, func(m sandbox.ResolvedMount) string { return m.Target }); ok && m.Source != "" {
			return joinPath(m.Source, strings.TrimPrefix(guest, m.Target))
		}
	}
	return guest
}

// workdir is the session's workdir as its commands see it.
func (k *kit) workdir(s *sandbox.Session) string { return k.guestPath(s, s.Workdir) }

// deepest is the mount whose side (source or target) holds p most closely.
func deepest(ms []sandbox.ResolvedMount, p string, side func(sandbox.ResolvedMount) string) (sandbox.ResolvedMount, bool) {
	var best sandbox.ResolvedMount
	found := false
	for _, m := range ms {
		d := side(m)
		if d == "" || (p != d && !strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/")) {
			continue
		}
		if !found || len(d) > len(side(best)) {
			best, found = m, true
		}
	}
	return best, found
}

// describe summarises an exec for a detail.
func describe(r *sandbox.ExecResult, err error) string {
	if err != nil && r == nil {
		return "exec error: " + err.Error()
	}
	s := fmt.Sprintf("exit %d", r.ExitCode)
	if r.TimedOut {
		s += ", timed out"
	}
	if r.Signal != "" {
		s += ", signal " + r.Signal
	}
	if e := strings.TrimSpace(string(r.Stderr)); e != "" {
		if len(e) > 160 {
			e = e[:160] + "..."
		}
		s += ", stderr: " + e
	}
	if err != nil {
		s += ", error: " + err.Error()
	}
	return s
}

// output is stdout and stderr together, for sentinel searches.
func output(r *sandbox.ExecResult) string {
	if r == nil {
		return ""
	}
	return string(r.Stdout) + string(r.Stderr)
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
