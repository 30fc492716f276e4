package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sandbox/sandbox/osconfine"
)

func TestErrorUnwrapsToSentinelAndCause(t *testing.T) {
	cause := fmt.Errorf("opening: %w", syscall.EACCES)
	var err error = &Error{Op: "exec", Session: "s", Kind: ErrExec, Err: cause}
	wrapped := fmt.Errorf("tool: %w", err)
	if !errors.Is(wrapped, ErrExec) || !errors.Is(wrapped, syscall.EACCES) || errors.Is(wrapped, ErrIO) {
		t.Fatalf("errors.Is through *Error: %v", wrapped)
	}
	var e *Error
	if !errors.As(wrapped, &e) || e.Op != "exec" || e.Session != "s" {
		t.Fatalf("errors.As: %+v", e)
	}
	var errno syscall.Errno
	if !errors.As(wrapped, &errno) || errno != syscall.EACCES {
		t.Fatalf("errors.As to the errno: %v", errno)
	}
	if msg := err.Error(); !strings.Contains(msg, "exec s") || !strings.Contains(msg, "permission denied") {
		t.Errorf("message %q names neither op, session nor cause", msg)
	}
	// No cause: only the sentinel.
	if err := (&Error{Op: "terminate", Kind: ErrSessionNotFound}); !errors.Is(err, ErrSessionNotFound) || err.Error() != "sandbox: terminate: session not found" {
		t.Errorf("causeless error %q", err)
	}

	u := &UnsupportedError{Backend: "local", Operation: "snapshot", Reason: "no"}
	if !errors.Is(u, ErrUnsupported) || !errors.Is(&Error{Op: "snapshot", Kind: ErrUnsupported, Err: u}, ErrUnsupported) {
		t.Fatal("UnsupportedError is not ErrUnsupported")
	}
	var ue *UnsupportedError
	if !errors.As(fmt.Errorf("x: %w", &Error{Op: "o", Kind: ErrUnsupported, Err: u}), &ue) || ue.Operation != "snapshot" {
		t.Fatal("errors.As to *UnsupportedError through *Error")
	}
	if !strings.Contains(u.Error(), `"local"`) || !strings.Contains(u.Error(), "snapshot") {
		t.Errorf("UnsupportedError message %q", u.Error())
	}
}

// A real errno from the backend reaches the caller through *Error: a mount
// source whose parent is a regular file.
func TestProvisionErrnoCause(t *testing.T) {
	l, root := newLocal(t)
	file := fileIn(t, t.TempDir(), "a-file")
	_, err := l.Provision(context.Background(), Spec{NetworkPolicy: AllowAll(), Mounts: []Mount{
		{Source: filepath.Join(file, "sub"), Target: "/mnt/x", Access: ReadWrite},
	}})
	checkErr(t, err, ErrInvalidRequest)
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("error %v does not unwrap to ENOTDIR", err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v does not unwrap to *os.PathError", err)
	}
	assertNoEntries(t, root)
}

// Asking for what the host cannot enforce fails closed, with an error that
// is ErrUnsupported and names the mechanism.
func TestUnenforceablePolicyFailsClosed(t *testing.T) {
	l, root := newLocal(t)
	caps := l.Capabilities()
	if caps.Enforcement.NetworkAllowList.Enforced {
		t.Skip("this host enforces per-host allow-lists")
	}
	_, err := l.Provision(context.Background(), Spec{NetworkPolicy: AllowHosts("api.github.com")})
	checkErr(t, err, ErrUnsupported)
	if !errors.Is(err, osconfine.ErrUnsupported) {
		t.Errorf("%v does not unwrap to osconfine.ErrUnsupported", err)
	}
	if caps.Enforcement.Filesystem.Enforced && !strings.Contains(err.Error(), "allow-list") {
		t.Errorf("error %q does not name the missing mechanism", err)
	}
	assertNoEntries(t, root)

	if !caps.Enforcement.NetworkDenyAll.Enforced {
		_, err := l.Provision(context.Background(), Spec{})
		checkErr(t, err, ErrUnsupported)
		assertNoEntries(t, root)
	}
}

func TestCapabilitiesReport(t *testing.T) {
	l, _ := newLocal(t)
	c := l.Capabilities()
	if l.Name() != "local" || !c.Snapshot || !c.Resume {
		t.Fatalf("capabilities %+v", c)
	}
	e := c.Enforcement
	if c.LocalProcessSandbox != e.Filesystem.Enforced || c.NetworkPolicy != e.NetworkDenyAll.Enforced {
		t.Errorf("booleans disagree with the report: %+v", c)
	}
	for name, m := range map[string]Mechanism{
		"filesystem": e.Filesystem, "network deny-all": e.NetworkDenyAll, "process tree": e.ProcessTree,
		"memory": e.Limits.Memory, "cpu time": e.Limits.CPUTime, "processes": e.Limits.MaxProcesses,
		"file size": e.Limits.MaxFileSize, "open files": e.Limits.MaxOpenFiles,
	} {
		if m.Enforced && m.By == "" || !m.Enforced && m.Reason == "" {
			t.Errorf("%s: %+v says neither by what nor why not", name, m)
		}
	}
}
