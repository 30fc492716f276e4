package sandboxtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-sandbox/sandbox"
)

// NewSession provisions a session for a test of tool-running code and
// terminates it in tb.Cleanup. It fails tb when Provision fails, also with
// ErrUnsupported (this host cannot confine the session as asked): a test
// that can live without confinement says so with Profile Unrestricted.
func NewSession(tb testing.TB, backend sandbox.Backend, spec sandbox.Spec) *sandbox.Session {
	tb.Helper()
	s, err := backend.Provision(tb.Context(), spec)
	if err != nil {
		tb.Fatalf("sandboxtest: provision: %v", err)
	}
	tb.Cleanup(func() {
		// tb.Context is already cancelled when cleanups run.
		err := backend.Terminate(context.Background(), s.ID)
		if err != nil && !errors.Is(err, sandbox.ErrSessionNotFound) {
			tb.Errorf("sandboxtest: terminate %s: %v", s.ID, err)
		}
	})
	return s
}

// RootDir returns a temporary directory, removed when tb ends, to use as
// sandbox.LocalConfig.RootDir in tests. Unlike tb.TempDir it, and the
// test's temp dir above it, can be traversed by every user: on a root host
// the local backend runs commands as an unprivileged identity, which must
// reach the session roots.
func RootDir(tb testing.TB) string {
	tb.Helper()
	d := tb.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			tb.Fatalf("sandboxtest: %v", err)
		}
	}
	return d
}
