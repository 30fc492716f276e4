package osconfine

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The contract Prepared keeps on every OS: Start after Close fails with
// ErrClosed, Close is idempotent, and a command is started only once. The
// policy names no system directory: true runs because Prepare adds the OS's
// baseline itself.
func TestPreparedClosedAndStartedOnce(t *testing.T) {
	dir := t.TempDir()
	prep, err := Prepare(Policy{Paths: []PathRule{{Path: dir, Access: Read | Write}}})
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("nothing to prepare on this host: %v", err)
	}
	require.NoError(t, err)

	truePath, err := exec.LookPath("true")
	require.NoError(t, err)
	cmd := exec.Command(truePath)
	child, err := prep.Start(cmd)
	require.NoError(t, err)
	_, err = prep.Start(cmd)
	assert.ErrorContains(t, err, "already started")
	assert.NoError(t, child.Wait())

	require.NoError(t, prep.Close())
	assert.NoError(t, prep.Close(), "second Close")
	_, err = prep.Start(exec.Command(truePath))
	assert.ErrorIs(t, err, ErrClosed)
}
