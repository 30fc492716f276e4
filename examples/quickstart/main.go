// Command quickstart provisions a sandbox session on this machine, runs a
// few commands in it and shows what was admitted and what was refused.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// step is one command and the outcome the sandbox should produce.
type step struct {
	title   string
	req     sandbox.ExecRequest
	refused bool                           // the sandbox must refuse it
	check   func(*sandbox.ExecResult) bool // judges the effect
}

func run() error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "quickstart-")
	if err != nil {
		return err
	}
	// Readable by every user: on a root host commands run as an
	// unprivileged identity, so the refusals below are the sandbox's doing,
	// not the directory's mode.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// A host file outside the session that the host user can read, and a
	// directory to expose read-only.
	secret := filepath.Join(work, "host-secret.txt")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o644); err != nil {
		return err
	}
	// The docs are writable by everyone on the host, so that refusing the
	// write below is the sandbox's doing.
	docs := filepath.Join(work, "docs")
	if err := os.MkdirAll(docs, 0o777); err != nil {
		return err
	}
	readme := filepath.Join(docs, "README")
	if err := os.WriteFile(readme, []byte("read-only docs\n"), 0o666); err != nil {
		return err
	}
	if err := os.Chmod(docs, 0o777); err != nil { // whatever the umask
		return err
	}
	if err := os.Chmod(readme, 0o666); err != nil {
		return err
	}

	// ViewRequired: the session gets a view of its own (its mounts at
	// their guest paths, its own /proc, no host file outside it), or
	// Provision says why this host cannot give it one.
	backend, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: filepath.Join(work, "sessions"), View: sandbox.ViewRequired})
	if err != nil {
		return err
	}
	caps := backend.Capabilities()
	fmt.Printf("host: %s, Landlock ABI %d\n", caps.Enforcement.OS, caps.Enforcement.LandlockABI)
	fmt.Printf("  view:         %s\n  filesystem:   %s\n  network:      %s\n  process tree: %s\n\n",
		caps.Enforcement.View, caps.Enforcement.Filesystem, caps.Enforcement.NetworkDenyAll, caps.Enforcement.ProcessTree)

	sess, err := backend.Provision(ctx, sandbox.Spec{
		NetworkPolicy: sandbox.DenyAll(),
		Mounts:        []sandbox.Mount{{Source: docs, Target: "/mnt/docs", Access: sandbox.ReadOnly}},
		Limits:        sandbox.Limits{WallTime: 10 * time.Second},
	})
	if errors.Is(err, sandbox.ErrUnsupported) {
		return fmt.Errorf("this host cannot confine commands as asked (LocalConfig.View = sandbox.ViewHost runs them in the host's view instead): %w", err)
	}
	if err != nil {
		return err
	}
	defer backend.Terminate(ctx, sess.ID)
	fmt.Printf("session %s at %s\n\n", sess.ID, sess.Root)

	// Commands see guest paths; the host reads what they wrote through
	// HostPath.
	report, err := sess.HostPath("/mnt/session/outputs/report.txt")
	if err != nil {
		return err
	}
	self, _ := os.ReadFile("/proc/self/comm")
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer listener.Close()
	port := listener.Addr().(*net.TCPAddr).Port

	steps := []step{
		{title: "write to the outputs mount",
			req:   sh(`echo report > /mnt/session/outputs/report.txt`),
			check: func(*sandbox.ExecResult) bool { return fileHas(report, "report") }},
		{title: "read a host file outside the session", refused: true,
			req:   sh("cat " + secret),
			check: func(r *sandbox.ExecResult) bool { return !strings.Contains(string(r.Stdout), "host secret") }},
		{title: "read the read-only mount at /mnt/docs",
			req:   sh("cat /mnt/docs/README"),
			check: func(r *sandbox.ExecResult) bool { return strings.Contains(string(r.Stdout), "read-only docs") }},
		{title: "write to the read-only mount", refused: true,
			req:   sh("echo changed > /mnt/docs/README"),
			check: func(*sandbox.ExecResult) bool { return fileHas(readme, "read-only docs") }},
		{title: "list processes: only the command's own",
			req: sh(`cat /proc/[0-9]*/comm | sort | tr '\n' ' '`),
			check: func(r *sandbox.ExecResult) bool {
				return r.ExitCode == 0 && strings.Contains(string(r.Stdout), "sh") &&
					!strings.Contains(string(r.Stdout), strings.TrimSpace(string(self))+" ")
			}},
		{title: "a command that sleeps past its 200 ms timeout", refused: true,
			req:   sandbox.ExecRequest{Command: "sleep", Args: []string{"100"}, Timeout: 200 * time.Millisecond},
			check: func(r *sandbox.ExecResult) bool { return r.TimedOut && r.Duration < 5*time.Second }},
		{title: "capture output of a command",
			req:   sh("echo hello from the sandbox; echo and stderr >&2"),
			check: func(r *sandbox.ExecResult) bool { return string(r.Stdout) == "hello from the sandbox\n" }},
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		steps = append(steps, step{title: "connect to a loopback port under deny-all", refused: true,
			req: sandbox.ExecRequest{Command: bash, Args: []string{"-c", fmt.Sprintf("echo hi > /dev/tcp/127.0.0.1/%d && echo connected", port)}},
			check: func(r *sandbox.ExecResult) bool {
				return !strings.Contains(string(r.Stdout), "connected")
			}})
	}

	failed := 0
	for _, s := range steps {
		res, err := backend.Exec(ctx, sess.ID, s.req)
		if err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
		verdict := "admitted"
		if s.refused {
			verdict = "refused"
		}
		if !s.check(res) {
			verdict = "UNEXPECTED (" + verdict + " was expected)"
			failed++
		}
		fmt.Printf("%-48s %s\n", s.title, verdict)
		fmt.Printf("    exit %d, timed out %v, %s\n", res.ExitCode, res.TimedOut, res.Duration.Round(time.Millisecond))
		for _, line := range strings.Split(strings.TrimSpace(string(res.Stdout)+string(res.Stderr)), "\n") {
			if line != "" {
				fmt.Printf("    | %s\n", line)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d step(s) did not behave as expected", failed)
	}
	return nil
}

func sh(script string) sandbox.ExecRequest {
	return sandbox.ExecRequest{Command: "sh", Args: []string{"-c", script}}
}

func fileHas(path, want string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), want)
}
