package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// detachScript leaves a process behind that has started a session of its
// own, and a double-forked daemon, both carrying mark in their argv, then
// waits until both run and says so.
const detachScript = `setsid sh -c 'sleep 300; : "$1"' sh "$1" &
( sh -c 'sleep 300; : "$1"' sh "$1" & ) &
i=0; while [ $i -lt 100 ]; do n=$(grep -l "$1" /proc/[0-9]*/cmdline 2>/dev/null | wc -l); [ "$n" -ge 3 ] && break; sleep 0.05; i=$((i+1)); done
echo detached`

// runOrphanHost is the helper mode "orphan-host": a host process that
// provisions sessions in the RootDir it is given, leaves work running in
// them, says "ready" and waits to be killed. arg is "<root dir> <mark>".
func runOrphanHost(arg string) int {
	root, mark, _ := strings.Cut(arg, " ")
	l, err := NewLocal(LocalConfig{RootDir: root})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ctx := context.Background()
	hardened, err := l.Provision(ctx, Spec{SessionID: "orphan-hardened", Limits: Limits{MaxProcesses: 64}})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	res, err := l.Exec(ctx, hardened.ID, sh(`echo result > "$SANDBOX_OUTPUTS_DIR/out.txt"`))
	if err != nil || res.ExitCode != 0 {
		fmt.Println("writing outputs:", res, err)
		return 1
	}
	unrestricted, err := l.Provision(ctx, Spec{SessionID: "orphan-unrestricted", Profile: Unrestricted, NetworkPolicy: AllowAll()})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	started := make(chan string, 2)
	for _, id := range []SessionID{hardened.ID, unrestricted.ID} {
		req := sh(detachScript+"\nsleep 300", mark)
		req.Stdout = lineSignal(started)
		go l.Exec(ctx, id, req)
	}
	<-started
	<-started
	fmt.Println("ready")
	select {}
}

// lineSignal is a writer that sends what it is given on ch.
type lineSignal chan string

func (c lineSignal) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

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
	if n := len(markedPids(mark)); n < 4 {
		t.Fatalf("%d marked processes before the kill, want at least 4", n)
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
