//go:build darwin || openbsd

package osconfine

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// checkGroupTreeDies runs shell scripts through startCmd and checks that Kill
// reaches a grandchild and that a background grandchild dies when the
// command exits (and Wait returns then).
func checkGroupTreeDies(t *testing.T, startCmd func(*exec.Cmd) (*Child, error), shell string) {
	t.Helper()
	start := func(script string) (*Child, int) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cmd := exec.Command(shell, "-c", script)
		cmd.Stdout = w
		child, err := startCmd(cmd)
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, 32)
		n, _ := r.Read(line)
		pid, err := strconv.Atoi(strings.TrimSpace(string(line[:n])))
		if err != nil {
			t.Fatalf("no grandchild pid: %q", line[:n])
		}
		return child, pid
	}
	gone := func(pid int) bool {
		for range 50 {
			if unix.Kill(pid, 0) == unix.ESRCH {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}

	// Kill reaches a grandchild.
	child, gc := start("sleep 60 >/dev/null & echo $!; wait")
	if err := child.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if !gone(gc) {
		t.Errorf("grandchild %d survived Kill", gc)
		unix.Kill(gc, unix.SIGKILL)
	}

	// A background process dies when the command exits.
	child, gc = start("sleep 60 >/dev/null & echo $!")
	done := make(chan struct{})
	go func() { child.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the command exited")
	}
	if !gone(gc) {
		t.Errorf("background grandchild %d survived the command's exit", gc)
		unix.Kill(gc, unix.SIGKILL)
	}
}
