//go:build linux

package sandboxtest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
)

// Dir works the same as root and as a user, with the session's own view
// and with the host's: a session reads an input the test placed there, by
// the path its commands see the mount at, and writes an output the test
// reads back from the directory.
func TestDirIsUsableByCommands(t *testing.T) {
	for _, c := range []struct {
		name string
		view sandbox.ViewMode
	}{{"default", sandbox.ViewAuto}, {"host_view", sandbox.ViewHost}} {
		t.Run(c.name, func(t *testing.T) {
			backend, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: sandboxtest.RootDir(t), View: c.view})
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
			input, err := sess.GuestPath(filepath.Join(in, "data.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "/mnt/inputs/data.txt"; backend.Capabilities().Enforcement.View.Enforced && input != want {
				t.Errorf("GuestPath = %s, want %s", input, want)
			}
			res, err := backend.Exec(t.Context(), sess.ID, sandbox.ExecRequest{
				Command: "sh", Args: []string{"-c", `cat "$1" > "$SANDBOX_OUTPUTS_DIR/copy.txt"`, "sh", input},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 0 {
				t.Fatalf("exit %d, stderr %q", res.ExitCode, res.Stderr)
			}
			got, err := os.ReadFile(filepath.Join(out, "copy.txt"))
			if err != nil || string(got) != "input\n" {
				t.Fatalf("output %q, %v", got, err)
			}
		})
	}
}
