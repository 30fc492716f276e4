package sandboxtest

// The lifecycle cases: timeouts, output caps, Terminate and unknown ids.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox"
)

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
