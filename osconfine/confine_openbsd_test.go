package osconfine

import (
	"errors"
	"strings"
	"testing"
)

func TestOpenBSDPrepareRefusesWithoutFilesystem(t *testing.T) {
	_, err := Prepare(Policy{Network: NetworkDenyAll})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "filesystem") {
		t.Errorf("Prepare err = %v, want ErrUnsupported naming filesystem confinement", err)
	}
}

func TestOpenBSDUnconfinedProcessTree(t *testing.T) {
	checkGroupTreeDies(t, StartUnconfined, "/bin/sh")
}
