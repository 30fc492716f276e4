package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-sandbox/sandbox/osconfine"
)

// Tests of the session's own view (ViewAuto on a host that can make one):
// guest paths, a private /proc, host files out of sight, an init that
// lets signals and limits behave, and nothing left behind.

// requireView skips where this host cannot give a session a view.
func requireView(t *testing.T, l *Local) {
	t.Helper()
	requireConfinement(t, l)
	if m := osconfine.Probe().View; !m.Enforced {
		t.Skipf("session view not available: %s", m.Reason)
	}
}

func TestViewGuestPaths(t *testing.T) {
	l, _ := newLocal(t)
	requireView(t, l)
	inputs := outsideDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(inputs, "data.csv"), []byte("a,b\n1,2\n"), 0o644))
	sess := provision(t, l, Spec{Mounts: []Mount{{Source: inputs, Target: "/mnt/inputs", Access: ReadOnly}}})
	require.Equal(t, WorkdirTarget, sess.Dirs[0].Target, "Session.Dirs")

	// A tool written for a hosted backend: it reads and writes by guest
	// path and starts in the workdir.
	tool := `import os
rows = open("/mnt/inputs/data.csv").read().splitlines()
open("/mnt/session/outputs/rows.txt", "w").write(str(len(rows)))
print(os.getcwd(), os.environ["SANDBOX_OUTPUTS_DIR"], os.environ["HOME"], os.environ["TMPDIR"])`
	res := run(t, l, sess.ID, ExecRequest{Command: "/usr/bin/python3", Args: []string{"-c", tool}})
	require.Equal(t, 0, res.ExitCode, "stderr %s", res.Stderr)
	assert.Equal(t, "/workspace /mnt/session/outputs /home/sandbox /tmp\n", string(res.Stdout))
	host, err := sess.HostPath("/mnt/session/outputs/rows.txt")
	require.NoError(t, err)
	got, _ := fileContent(t, host)
	assert.Equal(t, "2", got, "the host finds the tool's output in the outputs source")

	// The read-only mount refuses a write, and nothing lands in the source.
	res = run(t, l, sess.ID, sh(`echo x > /mnt/inputs/new 2>/dev/null && echo wrote || echo refused`))
	assert.Equal(t, "refused\n", string(res.Stdout))
	_, err = os.Stat(filepath.Join(inputs, "new"))
	assert.True(t, os.IsNotExist(err), "a write to the read-only mount reached the host: %v", err)

	// A relative cwd is below the workdir; an absolute one is a guest path.
	require.NoError(t, os.MkdirAll(filepath.Join(sess.Workdir, "sub"), 0o755))
	giveToSession(t, sess, filepath.Join(sess.Workdir, "sub"))
	for cwd, want := range map[string]string{"sub": "/workspace/sub", "/mnt/inputs": "/mnt/inputs"} {
		req := sh(`pwd`)
		req.Cwd = cwd
		assert.Equal(t, want+"\n", string(run(t, l, sess.ID, req).Stdout), "cwd %q", cwd)
	}
	_, err = l.Exec(context.Background(), sess.ID, ExecRequest{Command: "pwd", Cwd: inputs})
	assert.ErrorIs(t, err, ErrInvalidRequest, "a host path is not a guest path")
}

func TestViewHostFilesAreOutOfSight(t *testing.T) {
	l, _ := newLocal(t)
	requireView(t, l)
	outside := outsideDir(t)
	secret := filepath.Join(outside, "file")
	require.NoError(t, os.WriteFile(secret, []byte("host"), 0o644))
	sess := provision(t, l, Spec{})
	mine, err := sess.HostPath("/mnt/session/outputs/file")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mine, []byte("mine"), 0o644))
	giveToSession(t, sess, mine)

	ops := `for f in "$@"; do
  chmod 777 "$f" 2>/dev/null && echo "chmod $f" 
  chown 0:0 "$f" 2>/dev/null && echo "chown $f"
  touch -d 2000-01-01 "$f" 2>/dev/null && echo "touch $f"
  [ -e "$f" ] && echo "exists $f"
done; true`
	res := run(t, l, sess.ID, sh(ops, secret, outside, "/etc/shadow", "/root", "/mnt/session/outputs/file"))
	out := string(res.Stdout)
	for _, p := range []string{secret, outside, "/etc/shadow", "/root"} {
		assert.NotContains(t, out, " "+p+"\n", "a host path outside the session is reachable")
	}
	for _, op := range []string{"chmod", "touch", "exists"} {
		assert.Contains(t, out, op+" /mnt/session/outputs/file\n", "the admitted sibling: %s on a file of the outputs mount", op)
	}
	info, err := os.Stat(secret)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "the host file's mode changed")
	assert.True(t, info.ModTime().After(time.Now().Add(-time.Hour)), "the host file's times changed")
	info, err = os.Stat(mine)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o777), info.Mode().Perm(), "chmod in the outputs mount")
	assert.Equal(t, 2000, info.ModTime().Year(), "touch -d in the outputs mount")
}

func TestViewProcShowsOnlyTheCommand(t *testing.T) {
	l, _ := newLocal(t)
	requireView(t, l)
	sess := provision(t, l, Spec{})
	host := strconv.Itoa(os.Getpid())
	res := run(t, l, sess.ID, sh(`for p in /proc/[0-9]*; do printf '%s:%s ' "${p#/proc/}" "$(cat $p/comm)"; done; echo
cat /proc/$1/cmdline 2>/dev/null && echo "host cmdline readable"
cat /proc/$$/comm; echo $$`, host))
	lines := strings.Split(string(res.Stdout), "\n")
	require.GreaterOrEqual(t, len(lines), 3, "stdout %q stderr %q", res.Stdout, res.Stderr)
	names := map[string]bool{}
	for _, f := range strings.Fields(lines[0]) {
		pid, name, _ := strings.Cut(f, ":")
		assert.NotEqual(t, host, pid, "the host's pid is visible")
		names[name] = true
	}
	// The namespace's first process (this executable, "exe"), the shell
	// and the cat it runs: nothing of the host, nor of other commands.
	assert.True(t, names["sh"], "/proc lists %q: not the shell itself", lines[0])
	for name := range names {
		assert.Contains(t, []string{"exe", "sh", "cat"}, name, "/proc lists a process that is not the command's: %q", lines[0])
	}
	assert.NotContains(t, string(res.Stdout), "host cmdline readable")
	assert.Equal(t, "sh", lines[1], "/proc/$$ is the shell itself")
	assert.NotEqual(t, "1", lines[2], "the command is not PID 1 of its namespace")

	// A command running at the same time is not visible either.
	p, err := l.Start(context.Background(), sess.ID, ExecRequest{Command: "sleep", Args: []string{"30"}})
	require.NoError(t, err)
	defer p.Signal(os.Kill)
	res = run(t, l, sess.ID, sh(`cat /proc/[0-9]*/comm`))
	assert.NotContains(t, string(res.Stdout), "sleep", "another command of the session is visible")
}

func TestViewSignalsAndLimitsBehave(t *testing.T) {
	l, _ := newLocal(t)
	requireView(t, l)
	sess := provision(t, l, Spec{Limits: Limits{MaxFileSizeMB: 1, CPUTime: time.Second}})

	res := run(t, l, sess.ID, sh(`kill -TERM $$; echo survived`))
	assert.Equal(t, "terminated", res.Signal, "kill $$ without a trap: stdout %q", res.Stdout)
	assert.Empty(t, string(res.Stdout))
	res = run(t, l, sess.ID, sh(`trap 'echo trapped; exit 3' TERM; kill -TERM $$; sleep 5`))
	assert.Equal(t, 3, res.ExitCode, "the sibling with a trap runs its handler")

	res = run(t, l, sess.ID, sh(`exec head -c 2097152 /dev/zero > "$TMPDIR/big"`))
	assert.Equal(t, ReasonFileSize, res.Reason, "signal %q exit %d", res.Signal, res.ExitCode)
	res = run(t, l, sess.ID, sh(`head -c 524288 /dev/zero > "$TMPDIR/small" && wc -c < "$TMPDIR/small"`))
	assert.Equal(t, "524288\n", string(res.Stdout), "below the file-size limit")

	res = run(t, l, sess.ID, sh(`while :; do :; done`))
	assert.Equal(t, ReasonCPUTime, res.Reason, "signal %q", res.Signal)
	assert.Equal(t, "CPU time limit exceeded", res.Signal)
}

func TestViewLeavesNothingBehind(t *testing.T) {
	l, _ := newLocal(t)
	requireView(t, l)
	sess := provision(t, l, Spec{})
	mark, _ := newMarks(t)
	res := run(t, l, sess.ID, sh(detachScript, mark))
	require.Equal(t, "detached\n", string(res.Stdout), "stderr %s", res.Stderr)
	assert.Empty(t, markedPids(mark), "processes outlived Exec's return")

	// The next command of the session still runs, in a fresh namespace.
	assert.Equal(t, "ok\n", string(run(t, l, sess.ID, sh(`echo ok`)).Stdout))

	p, err := l.Start(context.Background(), sess.ID, sh(detachScript+"\nsleep 300", mark))
	require.NoError(t, err)
	// The started process and its two detached children (and, for a
	// moment, the subshell that detaches the second).
	require.GreaterOrEqual(t, len(waitForPids(3, mark)), 3, "the started process and its two detached children")
	require.NoError(t, l.Terminate(context.Background(), sess.ID))
	<-p.Done()
	assert.Empty(t, markedPids(mark), "processes outlived Terminate")
}

func TestViewAttachShowsTheNewMount(t *testing.T) {
	l, _ := newLocal(t)
	requireView(t, l)
	sess := provision(t, l, Spec{})
	late := outsideDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(late, "x"), []byte("late\n"), 0o644))

	res := run(t, l, sess.ID, sh(`cat /mnt/late/x 2>/dev/null || echo absent`))
	assert.Equal(t, "absent\n", string(res.Stdout), "before the attach")
	// A command already running keeps the rules it started with: the new
	// mount appears in its view, but its Landlock domain, made before the
	// attach, does not admit it.
	waiting, err := l.Start(context.Background(), sess.ID, sh(`i=0; while [ $i -lt 200 ] && ! [ -e /mnt/late/x ]; do sleep 0.05; i=$((i+1)); done; cat /mnt/late/x 2>/dev/null || echo never`))
	require.NoError(t, err)
	_, err = l.AttachFilesystem(context.Background(), sess.ID, Mount{Source: late, Target: "/mnt/late", Access: ReadOnly})
	require.NoError(t, err)
	res = run(t, l, sess.ID, sh(`cat /mnt/late/x; echo y > /mnt/late/y 2>/dev/null && echo wrote`))
	assert.Equal(t, "late\n", string(res.Stdout), "after the attach: stderr %s", res.Stderr)
	seen, err := waiting.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "never\n", string(seen.Stdout), "a command running across the attach reads the new mount")
	_, err = os.Stat(filepath.Join(late, "y"))
	assert.True(t, os.IsNotExist(err), "a write reached the read-only attached mount")
}

func TestViewModeIsReportedAndChecked(t *testing.T) {
	_, err := NewLocal(LocalConfig{RootDir: reachableTempDir(t), View: "sometimes"})
	assert.ErrorIs(t, err, ErrInvalidRequest, "an unknown ViewMode")

	host, err := NewLocal(LocalConfig{RootDir: reachableTempDir(t), View: ViewHost})
	require.NoError(t, err)
	requireConfinement(t, host)
	m := host.Capabilities().Enforcement.View
	assert.False(t, m.Enforced, "ViewHost reports no view")
	assert.Contains(t, m.Reason, "ViewHost")
	sess := provision(t, host, Spec{})
	assert.Empty(t, sess.Dirs, "a session in the host's view has no guest directories")
	out := string(run(t, host, sess.ID, sh(`printf %s "$SANDBOX_OUTPUTS_DIR"`)).Stdout)
	assert.True(t, strings.HasPrefix(out, sess.Root), "in the host's view the outputs variable is a host path: %q", out)

	l, _ := newLocal(t)
	requireView(t, l)
	required, err := NewLocal(LocalConfig{RootDir: reachableTempDir(t), View: ViewRequired})
	require.NoError(t, err)
	assert.True(t, required.Capabilities().Enforcement.View.Enforced)
	sess = provision(t, required, Spec{})
	assert.Equal(t, "/mnt/session/outputs", string(run(t, required, sess.ID, sh(`printf %s "$SANDBOX_OUTPUTS_DIR"`)).Stdout))
	// Unrestricted sessions never get a view, whatever the mode.
	free := provision(t, required, Spec{Profile: Unrestricted, NetworkPolicy: AllowAll()})
	assert.Empty(t, free.Dirs)
}
