package sandboxtest

import (
	"context"
	"time"
)

// Options adapt the kit to a backend. The zero value suits a backend whose
// commands run on this host, whose files the kit reaches by host path
// (mapped with Session.HostPath and Session.GuestPath where the session
// has a view of its own), and which reach its loopback network, like the
// local backend.
type Options struct {
	// Shell runs the cases' scripts inside the session; it must be a
	// POSIX shell. Empty: "/bin/sh".
	Shell string
	// SystemFile is a file every command must be able to read (the
	// admitted sibling of outside_read_refused). Empty: "/etc/passwd".
	SystemFile string
	// OutsideDir is the directory under which the kit creates its
	// "outside" files: a fresh directory (0755, files 0644) that must lie
	// outside every session. Empty: the FS's default (os.TempDir() for
	// this host).
	OutsideDir string
	// CaseTimeout bounds each case. Empty: 60s.
	CaseTimeout time.Duration
	// Skip names cases to report as NotApplicable without running them.
	Skip []string
	// Remote, when set, says the backend's commands do not run on this
	// host; nil means they do (host paths, 127.0.0.1 and /proc work).
	Remote *Remote
}

// Remote tells the kit how to reach the machine where a remote backend's
// commands run. A nil field makes the cases that need it NotApplicable:
//
//   - FS: workspace_write_admitted, outside_*, system_read_admitted (its
//     content check), ro_mount_*, session_temp_write_admitted,
//     other_session_temp_read_refused, the view_* cases, and the root
//     check of terminate_leaves_nothing.
//   - Listen: network_denyall_refused, network_unrestricted_admitted.
//   - Processes: the process checks of timeout_kills_and_reports and
//     terminate_leaves_nothing, which then judge by the backend's answers
//     only.
type Remote struct {
	FS        FS
	Listen    func(ctx context.Context, banner string) (Listener, error)
	Processes func(ctx context.Context, marker string) (int, error)
}

// FS plants and inspects files where the backend's commands run. Paths are
// absolute paths of that machine (host paths for this host), not of a
// session's view: the kit maps a path a command sees to one of the FS
// through the session (Session.HostPath, or the mounts' sources for a
// backend whose commands run elsewhere). A path inside a remote session
// that no mount source holds (its workdir, its TMPDIR, an emptyDir) stays
// the path the commands see; the FS resolves it in the session that has
// it (the kit names such files with a fresh token, so one session at most
// has one). Errors for a missing file wrap fs.ErrNotExist.
type FS interface {
	// MkdirTemp creates a fresh directory (mode 0755) outside every
	// session, like os.MkdirTemp.
	MkdirTemp(dir, pattern string) (string, error)
	// WriteFile creates or replaces a file with mode 0644.
	WriteFile(name string, data []byte) error
	ReadFile(name string) ([]byte, error)
	// Exists reports whether anything (file, directory) is at name.
	Exists(name string) (bool, error)
	RemoveAll(name string) error
}

// Listener is a TCP server the commands may try to reach. It answers every
// connection with its banner and a newline, then closes it.
type Listener interface {
	// Address is the host and port a command dials ("127.0.0.1", "40123").
	Address() (host, port string)
	// Accepted is how many connections it has accepted so far.
	Accepted() int
	Close() error
}
