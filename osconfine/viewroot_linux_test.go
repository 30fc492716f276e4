//go:build linux

package osconfine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The session's root is judged by effect: a child started in the session's
// namespaces builds it and tries a list of probes, each reported with its
// outcome; the test compares the outcomes and what landed on the host.

// rootProbe is one thing the child tries inside the built root.
type rootProbe struct {
	Op    string     `json:"op"` // read, write, stat, readdir, openrw, exec, mkdir, statfs, getpid, attach
	Path  string     `json:"path,omitempty"`
	Data  string     `json:"data,omitempty"`
	Mount *ViewMount `json:"mount,omitempty"`
}

// probeResult is how it went: Out on success, else the error, its errno
// name and whether it wraps fs.ErrNotExist.
type probeResult struct {
	Out      string `json:"out,omitempty"`
	Err      string `json:"err,omitempty"`
	Errno    string `json:"errno,omitempty"`
	NotExist bool   `json:"not_exist,omitempty"`
}

func (r probeResult) ok() bool { return r.Err == "" }

type viewRootArg struct {
	Stage  string      `json:"stage"`
	Mounts []ViewMount `json:"mounts"`
	Probes []rootProbe `json:"probes"`
	// Overmount makes the helper cover a part of its /proc and run itself
	// again in nested namespaces, where the copy of that mount is locked.
	Overmount bool `json:"overmount,omitempty"`
}

type viewRootReport struct {
	Build       probeResult   `json:"build"`
	Unsupported bool          `json:"unsupported,omitempty"`
	Probes      []probeResult `json:"probes"`
}

func init() {
	linuxHelpers["viewroot"] = viewRootHelper
}

func viewRootHelper(argJSON string) error {
	var arg viewRootArg
	if err := json.Unmarshal([]byte(argJSON), &arg); err != nil {
		return err
	}
	if arg.Overmount {
		return overmountHelper(arg)
	}
	var rep viewRootReport
	g, err := buildRoot(arg.Stage, arg.Mounts)
	rep.Build = resultOf("", err)
	rep.Unsupported = errors.Is(err, ErrUnsupported)
	if err == nil {
		for _, p := range arg.Probes {
			rep.Probes = append(rep.Probes, runProbe(g, p))
		}
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// overmountHelper mounts its own /proc and covers /proc/sys in it, as a
// container runtime does, and runs the viewroot helper again in new
// namespaces: there the copy of the cover is locked, and the kernel refuses
// a fresh procfs.
func overmountHelper(arg viewRootArg) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	// os/exec writes the child's uid_map through /proc/<pid>, with the pid
	// of this PID namespace: the host's /proc has the wrong process there.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if err := unix.Mount("tmpfs", "/proc/sys", "tmpfs", 0, ""); err != nil {
		return fmt.Errorf("covering /proc/sys: %w", err)
	}
	arg.Overmount = false
	b, _ := json.Marshal(arg)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := helperCommand(exe, "viewroot", string(b), 0, 0)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func runProbe(g *guestRoot, p rootProbe) probeResult {
	switch p.Op {
	case "read":
		b, err := os.ReadFile(p.Path)
		return resultOf(string(b), err)
	case "write":
		return resultOf("", os.WriteFile(p.Path, []byte(p.Data), 0o644))
	case "stat":
		fi, err := os.Lstat(p.Path)
		if err != nil {
			return resultOf("", err)
		}
		return resultOf(fi.Mode().String(), nil)
	case "readdir":
		es, err := os.ReadDir(p.Path)
		names := make([]string, 0, len(es))
		for _, e := range es {
			names = append(names, e.Name())
		}
		return resultOf(strings.Join(names, "\n"), err)
	case "openrw":
		f, err := os.OpenFile(p.Path, os.O_RDWR, 0)
		if err == nil {
			f.Close()
		}
		return resultOf("", err)
	case "exec":
		return resultOf("", exec.Command(p.Path).Run())
	case "mkdir":
		return resultOf("", os.Mkdir(p.Path, 0o755))
	case "statfs":
		var st unix.Statfs_t
		err := unix.Statfs(p.Path, &st)
		return resultOf(fmt.Sprintf("%#x", st.Type), err)
	case "getpid":
		return resultOf(strconv.Itoa(os.Getpid()), nil)
	case "attach":
		return resultOf("", g.attach(*p.Mount))
	}
	return resultOf("", fmt.Errorf("unknown probe %q", p.Op))
}

func resultOf(out string, err error) probeResult {
	if err == nil {
		return probeResult{Out: out}
	}
	r := probeResult{Out: out, Err: err.Error(), NotExist: errors.Is(err, fs.ErrNotExist)}
	var errno unix.Errno
	if errors.As(err, &errno) {
		r.Errno = unix.ErrnoName(errno)
	}
	return r
}

// viewRootHost is the host's side of a test: directories the child's uid
// can reach, and the test binary where that uid can run it.
type viewRootHost struct {
	base     string
	exe      string
	uid, gid int
}

// newViewRootHost makes a test directory for a child whose uid 0 is the
// host's uid and gid. For another uid than the test's, the directories are
// opened to it and the test binary is copied where it can run it (go test
// builds in a private directory).
func newViewRootHost(t *testing.T, uid, gid int) *viewRootHost {
	base := t.TempDir()
	h := &viewRootHost{base: base, uid: uid, gid: gid}
	exe, err := os.Executable()
	require.NoError(t, err)
	h.exe = exe
	if uid == os.Getuid() {
		return h
	}
	for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	h.exe = filepath.Join(base, "osconfine.test")
	copyFile(t, exe, h.exe, 0o755)
	return h
}

// dir makes a directory owned by the child's uid (so it may write it) with
// files name -> content.
func (h *viewRootHost) dir(t *testing.T, name string, files map[string]string) string {
	d := filepath.Join(h.base, name)
	require.NoError(t, os.MkdirAll(d, 0o755))
	for n, c := range files {
		p := filepath.Join(d, n)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(c), 0o644))
	}
	require.NoError(t, os.Chown(d, h.uid, h.gid))
	return d
}

func (h *viewRootHost) run(t *testing.T, arg viewRootArg) viewRootReport {
	t.Helper()
	b, err := json.Marshal(arg)
	require.NoError(t, err)
	out := runHelper(t, h.exe, "viewroot", string(b), h.uid, h.gid)
	var rep viewRootReport
	require.NoError(t, json.Unmarshal(out, &rep), "helper output: %s", out)
	return rep
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// TestViewRoot builds a session root with the test's own uid as the
// session's uid 0 and, on a root host, with nobody's.
func TestViewRoot(t *testing.T) {
	t.Run("owner", func(t *testing.T) {
		testViewRoot(t, newViewRootHost(t, os.Getuid(), os.Getgid()))
	})
	t.Run("nobody", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("mapping another uid than one's own needs root on the host")
		}
		testViewRoot(t, newViewRootHost(t, 65534, 65534))
	})
}

func testViewRoot(t *testing.T, h *viewRootHost) {
	stage := h.dir(t, "view", nil)
	ro := h.dir(t, "ro", map[string]string{"file.txt": "read only"})
	rw := h.dir(t, "rw", nil)
	ws := h.dir(t, "ws", map[string]string{"present/.keep": "", "present2/.keep": "", "notes.txt": "ws"})
	inner := h.dir(t, "inner", map[string]string{"file.txt": "inner"})
	single := filepath.Join(h.dir(t, "single", map[string]string{"one.txt": "one file"}), "one.txt")
	attachRO := h.dir(t, "attach-ro", map[string]string{"a.txt": "attached"})
	attachRW := h.dir(t, "attach-rw", nil)
	// A host file outside every mount.
	outside := filepath.Join(h.dir(t, "outside", map[string]string{"secret.txt": "secret"}), "secret.txt")

	probes := []rootProbe{
		0:  {Op: "read", Path: "/data/ro/file.txt"},
		1:  {Op: "write", Path: "/data/ro/new.txt", Data: "x"},
		2:  {Op: "write", Path: "/data/rw/new.txt", Data: "from the guest"},
		3:  {Op: "read", Path: "/etc/passwd"},
		4:  {Op: "stat", Path: "/etc/shadow"},
		5:  {Op: "stat", Path: outside},
		6:  {Op: "readdir", Path: "/proc"},
		7:  {Op: "getpid"},
		8:  {Op: "write", Path: "/dev/null", Data: "x"},
		9:  {Op: "openrw", Path: "/dev/pts/ptmx"},
		10: {Op: "exec", Path: "/usr/bin/true"},
		11: {Op: "read", Path: "/workspace/present/file.txt"},
		12: {Op: "read", Path: "/workspace/notes.txt"},
		13: {Op: "read", Path: "/single.txt"},
		14: {Op: "attach", Mount: &ViewMount{Source: attachRO, Target: "/attached/ro", ReadOnly: true}},
		15: {Op: "read", Path: "/attached/ro/a.txt"},
		16: {Op: "write", Path: "/attached/ro/b.txt", Data: "x"},
		17: {Op: "attach", Mount: &ViewMount{Source: attachRW, Target: "/attached/rw"}},
		18: {Op: "write", Path: "/attached/rw/b.txt", Data: "attached write"},
		19: {Op: "attach", Mount: &ViewMount{Source: inner, Target: "/workspace/missing/deeper"}},
		20: {Op: "attach", Mount: &ViewMount{Source: inner, Target: "/workspace/present2"}},
		21: {Op: "read", Path: "/workspace/present2/file.txt"},
		22: {Op: "readdir", Path: "/"},
		23: {Op: "statfs", Path: "/proc"},
		24: {Op: "mkdir", Path: "/newdir"},
		25: {Op: "mkdir", Path: "/tmp/newdir"},
		26: {Op: "write", Path: "/dev/shm/x", Data: "x"},
		27: {Op: "stat", Path: "/bin"},
		28: {Op: "stat", Path: "/etc/mtab"},
		29: {Op: "read", Path: "/proc/1/root" + outside},
		30: {Op: "readdir", Path: "/.oldroot"},
		31: {Op: "stat", Path: "/.oldroot/etc/shadow"},
		32: {Op: "stat", Path: "/proc/1/root/.oldroot/etc/shadow"},
		33: {Op: "stat", Path: "/.oldroot" + ro},
	}
	rep := h.run(t, viewRootArg{
		Stage: stage,
		Mounts: []ViewMount{
			// Out of order: buildRoot sorts them.
			{Source: inner, Target: "/workspace/present", ReadOnly: true},
			{Source: ro, Target: "/data/ro", ReadOnly: true},
			{Source: rw, Target: "/data/rw"},
			{Source: ws, Target: "/workspace"},
			{Source: single, Target: "/single.txt", ReadOnly: true},
		},
		Probes: probes,
	})
	require.True(t, rep.Build.ok(), "buildRoot: %s", rep.Build.Err)
	require.Len(t, rep.Probes, len(probes))
	p := rep.Probes
	assertOut := func(i int, want string) {
		t.Helper()
		if assert.True(t, p[i].ok(), "%+v: %s", probes[i], p[i].Err) {
			assert.Equal(t, want, p[i].Out, "%+v", probes[i])
		}
	}
	assertErrno := func(i int, want string) {
		t.Helper()
		assert.Equal(t, want, p[i].Errno, "%+v: %s", probes[i], p[i].Err)
	}
	assertOK := func(i int) {
		t.Helper()
		assert.True(t, p[i].ok(), "%+v: %s", probes[i], p[i].Err)
	}

	// Read-only mounts read but refuse writes; a read-write mount's writes
	// land in the host's directory.
	assertOut(0, "read only")
	assertErrno(1, "EROFS")
	assertOK(2)
	got, err := os.ReadFile(filepath.Join(rw, "new.txt"))
	require.NoError(t, err)
	assert.Equal(t, "from the guest", string(got))
	assertOut(13, "one file")

	// /etc has its entries but not the rest; host paths outside every mount
	// do not exist.
	assertOK(3)
	assert.Contains(t, p[3].Out, "root:")
	assertErrno(4, "ENOENT")
	assertErrno(5, "ENOENT")
	assertOut(28, "Lrwxrwxrwx")

	// /proc is the child's PID namespace: it is pid 1, and the test process
	// is not there.
	assertOut(7, "1")
	if assertOK(6); p[6].ok() {
		pids := strings.Split(p[6].Out, "\n")
		assert.Contains(t, pids, "1")
		assert.NotContains(t, pids, strconv.Itoa(os.Getpid()))
	}
	assertOut(23, fmt.Sprintf("%#x", unix.PROC_SUPER_MAGIC))

	// Devices.
	assertOK(8)
	assertOK(9)
	assertOK(26)
	assertOut(27, "Lrwxrwxrwx")

	// Programs of the host's /usr run.
	assertOK(10)

	// A nested mount shows over its parent's mount point, both readable.
	assertOut(11, "inner")
	assertOut(12, "ws")

	// attach after the pivot: visible, read-only when asked.
	assertOK(14)
	assertOut(15, "attached")
	assertErrno(16, "EROFS")
	assertOK(17)
	got, err = os.ReadFile(filepath.Join(attachRW, "b.txt"))
	require.NoError(t, err)
	assert.Equal(t, "attached write", string(got))

	// A mount point missing in a host source is refused, and nothing was
	// created there; an existing one is used.
	assert.False(t, p[19].ok(), "attach under a missing mount point")
	assert.True(t, p[19].NotExist, "want fs.ErrNotExist: %s", p[19].Err)
	assert.NoDirExists(t, filepath.Join(ws, "missing"))
	assertOK(20)
	assertOut(21, "inner")

	// The root is the session's own and read-only; /tmp is writable.
	if assertOK(22); p[22].ok() {
		names := strings.Split(p[22].Out, "\n")
		allowed := append(slices.Clone(systemReadExec), "/etc", "/dev", "/proc", "/sys", "/tmp", "/data", "/workspace", "/single.txt", "/attached", "/.oldroot")
		for _, n := range names {
			assert.Contains(t, allowed, "/"+n, "unexpected entry in the session's /")
		}
	}
	assertErrno(24, "EROFS")
	assertOK(25)

	// The old root is not reachable by path, also through the init's
	// /proc/1/root: its mount point shows an empty cover.
	assertErrno(29, "ENOENT")
	assert.True(t, !p[30].ok() || p[30].Out == "", "/.oldroot lists %q", p[30].Out)
	assertErrno(31, "ENOENT")
	assertErrno(32, "ENOENT")
	assertErrno(33, "ENOENT")
}

// TestViewRootRefusesMissingNestedMountPoint: at build time too, a target
// below another mount whose mount point the host source lacks fails, and the
// host's directory is left alone.
func TestViewRootRefusesMissingNestedMountPoint(t *testing.T) {
	h := newViewRootHost(t, os.Getuid(), os.Getgid())
	ws := h.dir(t, "ws", map[string]string{"notes.txt": "ws"})
	inner := h.dir(t, "inner", map[string]string{"file.txt": "inner"})
	rep := h.run(t, viewRootArg{
		Stage: h.dir(t, "view", nil),
		Mounts: []ViewMount{
			{Source: ws, Target: "/workspace"},
			{Source: inner, Target: "/workspace/sub/inner"},
		},
	})
	assert.False(t, rep.Build.ok(), "buildRoot with a missing nested mount point")
	assert.True(t, rep.Build.NotExist, "want fs.ErrNotExist: %s", rep.Build.Err)
	assert.NoDirExists(t, filepath.Join(ws, "sub"))
	entries, err := os.ReadDir(ws)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

// TestViewRootProcRefused: where the host's /proc has a part overmounted (as
// container runtimes do), the kernel refuses a new procfs in a user
// namespace, and buildRoot says so with ErrUnsupported.
func TestViewRootProcRefused(t *testing.T) {
	h := newViewRootHost(t, os.Getuid(), os.Getgid())
	rep := h.run(t, viewRootArg{Stage: h.dir(t, "view", nil), Overmount: true})
	assert.False(t, rep.Build.ok(), "buildRoot with /proc/sys covered")
	assert.True(t, rep.Unsupported, "want ErrUnsupported: %s", rep.Build.Err)
	assert.Contains(t, rep.Build.Err, "/proc")
}
