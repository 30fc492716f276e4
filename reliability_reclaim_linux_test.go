//go:build linux

package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A host killed with SIGKILL leaves its session roots and cgroups; the
// next NewLocal on the RootDir reclaims them, keeps the outputs, and
// leaves a live host's sessions alone.
func TestHostKilledIsReclaimed(t *testing.T) {
	l, root := newLocal(t)
	requireConfinement(t, l)
	live := provision(t, l, Spec{SessionID: "live"})
	mark, _ := newMarks(t)

	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), helperEnv+"=orphan-host", helperArgEnv+"="+root+" "+mark)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Process.Kill(); host.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("helper host: %q", line)
	}
	if n := len(waitForPids(5, mark)); n < 5 {
		t.Fatalf("%d marked processes before the kill, want at least 5", n)
	}
	cgroupsBefore := hostCgroups(t, host.Process.Pid)
	t.Logf("cgroups of the host before the kill: %v", cgroupsBefore)

	host.Process.Signal(syscall.SIGKILL)
	host.Wait()
	time.Sleep(2 * time.Second)
	if left := markedPids(mark); len(left) > 0 {
		t.Errorf("processes outlived their SIGKILLed host (hardened and unrestricted sessions): %v", left)
	}
	for _, id := range []string{"orphan-hardened", "orphan-unrestricted"} {
		if _, err := os.Stat(filepath.Join(root, id)); err != nil {
			t.Fatalf("the dead host's root %s is not there to reclaim: %v", id, err)
		}
	}

	if _, err := NewLocal(LocalConfig{RootDir: root}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"orphan-hardened", "orphan-unrestricted"} {
		if _, err := os.Stat(filepath.Join(root, id)); !os.IsNotExist(err) {
			t.Errorf("root %s not reclaimed: %v", id, err)
		}
	}
	if got, _ := fileContent(t, filepath.Join(root, orphanedDir, "orphan-hardened", "outputs", "out.txt")); got != "result\n" {
		t.Errorf("reclaimed outputs: %q, want the file the command wrote", got)
	}
	if _, err := os.Stat(filepath.Join(root, orphanedDir, "orphan-unrestricted")); !os.IsNotExist(err) {
		t.Errorf("empty outputs of a reclaimed session were kept: %v", err)
	}
	if left := hostCgroups(t, host.Process.Pid); len(left) > 0 {
		t.Errorf("cgroups of the dead host left: %v", left)
	} else if len(cgroupsBefore) == 0 {
		t.Logf("no per-command cgroup on this host: only the roots were checked")
	}

	// The live host's session is untouched and works.
	if res := run(t, l, live.ID, sh(`echo alive > "$SANDBOX_OUTPUTS_DIR/x"; cat "$SANDBOX_OUTPUTS_DIR/x"`)); string(res.Stdout) != "alive\n" {
		t.Fatalf("live session after a reclaim: %+v", res)
	}
	// The dead host's session id is free again.
	again := provision(t, l, Spec{SessionID: "orphan-hardened"})
	if again.ID != "orphan-hardened" {
		t.Fatal(again.ID)
	}
}

// hostCgroups lists the per-command cgroups the process pid made in this
// process's pids and memory hierarchies (cgroup v1) or its unified one.
func hostCgroups(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var found []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir := filepath.Join("/sys/fs/cgroup", parts[1], parts[2])
		m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("sandbox-%d.*", pid)))
		found = append(found, m...)
	}
	return found
}
