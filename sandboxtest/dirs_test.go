//go:build linux

package sandboxtest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
)

// Dir works the same as root and as a user: a session reads an input the
// test placed there and writes an output the test reads back.
func TestDirIsUsableByCommands(t *testing.T) {
	backend, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: sandboxtest.RootDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	if fs := backend.Capabilities().Enforcement.Filesystem; !fs.Enforced {
		t.Skipf("Landlock not available: %s", fs.Reason)
	}
	in, out := sandboxtest.Dir(t), sandboxtest.Dir(t)
	if err := os.WriteFile(filepath.Join(in, "data.txt"), []byte("input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sess := sandboxtest.NewSession(t, backend, sandbox.Spec{Mounts: []sandbox.Mount{
		{Source: in, Target: "/mnt/inputs", Access: sandbox.ReadOnly},
		{Source: out, Target: sandbox.OutputsTarget, Access: sandbox.ReadWrite},
	}})
	res, err := backend.Exec(t.Context(), sess.ID, sandbox.ExecRequest{
		Command: "sh", Args: []string{"-c", `cat "$1/data.txt" > "$SANDBOX_OUTPUTS_DIR/copy.txt"`, "sh", in},
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	got, err := os.ReadFile(filepath.Join(out, "copy.txt"))
	if err != nil || string(got) != "input\n" {
		t.Fatalf("output %q, %v", got, err)
	}
}
