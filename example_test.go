//go:build linux

package sandbox_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-sandbox/sandbox"
)

// A session confines every command to its own directories; the outputs
// mount is where a command leaves files for the caller.
func ExampleLocal_Exec() {
	// Sessions live under the OS temp dir; Terminate removes them.
	backend, err := sandbox.NewLocal(sandbox.LocalConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// This example's command needs no network; a session that may use it
	// says so explicitly (the zero policy denies all network access).
	sess, err := backend.Provision(ctx, sandbox.Spec{NetworkPolicy: sandbox.AllowAll()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer backend.Terminate(ctx, sess.ID)

	res, err := backend.Exec(ctx, sess.ID, sandbox.ExecRequest{
		Command: "sh",
		Args:    []string{"-c", `echo hello from the sandbox; echo saved > "$SANDBOX_OUTPUTS_DIR/result.txt"`},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(res.Stdout))
	fmt.Println("exit code:", res.ExitCode)
	// Output:
	// hello from the sandbox
	// exit code: 0
}

// Errors wrap a sentinel callers branch on.
func ExampleError() {
	backend, _ := sandbox.NewLocal(sandbox.LocalConfig{})
	_, err := backend.Exec(context.Background(), "no-such-session", sandbox.ExecRequest{Command: "true"})
	fmt.Println(errors.Is(err, sandbox.ErrSessionNotFound))
	var e *sandbox.Error
	if errors.As(err, &e) {
		fmt.Println(e.Op, e.Session)
	}
	// Output:
	// true
	// exec no-such-session
}

// A process started in one step keeps running for the next: here a shell
// fed line by line through its stdin.
func ExampleLocal_Start() {
	backend, err := sandbox.NewLocal(sandbox.LocalConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	sess, err := backend.Provision(ctx, sandbox.Spec{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer backend.Terminate(ctx, sess.ID)

	shell, err := backend.Start(ctx, sess.ID, sandbox.ExecRequest{Command: "sh"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprintln(shell.Stdin(), "echo first step")
	fmt.Fprintln(shell.Stdin(), "echo second step")
	shell.Stdin().Close() // end of input: the shell exits
	res, err := shell.Wait(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(res.Stdout))
	// Output:
	// first step
	// second step
}

// A command on a terminal sees one, of the size asked for.
func ExampleExecRequest_terminal() {
	backend, err := sandbox.NewLocal(sandbox.LocalConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	sess, err := backend.Provision(ctx, sandbox.Spec{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer backend.Terminate(ctx, sess.ID)
	res, err := backend.Exec(ctx, sess.ID, sandbox.ExecRequest{
		Command:  "sh",
		Args:     []string{"-c", "test -t 1 && stty size"},
		Terminal: &sandbox.TerminalSize{Rows: 24, Cols: 80},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", res.Stdout) // a terminal ends lines with \r\n
	// Output: "24 80\r\n"
}
