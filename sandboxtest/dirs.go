package sandboxtest

import (
	"os"
	"testing"
)

// Dir returns a fresh directory, removed when tb ends, for a test's input
// or output files: mount it into a session (as a Mount's Source, or as the
// source of sandbox.OutputsTarget) and the session's commands can read
// and write it, while the test reads what they wrote. Commands see it at
// the path Session.GuestPath gives (the mount's target where the session
// has a view of its own, the directory itself in the host's view), and
// the test uses its host path. It behaves the same
// on a root host, where the local backend runs commands as an
// unprivileged identity that cannot enter tb.TempDir's 0700 directories,
// and as an unprivileged user.
func Dir(tb testing.TB) string {
	tb.Helper()
	d := RootDir(tb)
	if err := Share(d); err != nil {
		tb.Fatalf("sandboxtest: %v", err)
	}
	return d
}

// Share makes dir readable, writable and searchable by every user, so a
// command may use it whatever identity it runs as. Its parents must be
// searchable already (os.MkdirTemp("", ...) gives such a directory); files
// placed in it afterwards need modes that let commands read them (0644).
func Share(dir string) error {
	return os.Chmod(dir, 0o777)
}
