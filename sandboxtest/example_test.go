//go:build linux

package sandboxtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
)

// countWords is the tool under test: it counts the words of its input in
// a session and leaves the count in the session's outputs.
func countWords(ctx context.Context, b sandbox.Backend, id sandbox.SessionID, text string) error {
	_, err := b.Exec(ctx, id, sandbox.ExecRequest{
		Command: "sh",
		Args:    []string{"-c", `wc -w | tr -d ' ' > "$SANDBOX_OUTPUTS_DIR/count"`},
		Stdin:   []byte(text),
	})
	return err
}

// A test of tool code gives the session an outputs directory of its own
// and reads what the tool left there. In a test, sandboxtest.Dir(t) gives
// that directory (and sandboxtest.NewSession the session); here, outside
// a test, Share does the same for a directory of the caller's.
func Example_testingATool() {
	tmp, err := os.MkdirTemp("", "tool-test")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	outputs := filepath.Join(tmp, "outputs")
	if err := os.Mkdir(outputs, 0o700); err != nil {
		fmt.Println(err)
		return
	}
	// Commands may run as another identity: the test's directories must
	// let them through (what sandboxtest.Dir does for a test).
	for _, d := range []string{tmp, outputs} {
		if err := sandboxtest.Share(d); err != nil {
			fmt.Println(err)
			return
		}
	}
	backend, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: filepath.Join(tmp, "sessions")})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	sess, err := backend.Provision(ctx, sandbox.Spec{
		Mounts: []sandbox.Mount{{Source: outputs, Target: sandbox.OutputsTarget, Access: sandbox.ReadWrite}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := countWords(ctx, backend, sess.ID, "three little words"); err != nil {
		fmt.Println(err)
		return
	}
	backend.Terminate(ctx, sess.ID)

	// The outputs are the caller's: they outlive the session.
	count, err := os.ReadFile(filepath.Join(outputs, "count"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(count))
	// Output: 3
}
