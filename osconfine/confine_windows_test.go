package osconfine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// The test binary is its own child (os/exec's pattern): run with
// OSCONFINE_WINDOWS_HELPER set, TestWindowsHelper acts out one of the
// behaviours below and exits.
const helperEnv = "OSCONFINE_WINDOWS_HELPER"

func TestWindowsHelper(t *testing.T) {
	mode, ok := os.LookupEnv(helperEnv)
	if !ok {
		return
	}
	switch {
	case mode == "sleep":
		time.Sleep(60 * time.Second)
	case mode == "spawn":
		// Start a sleeping grandchild, print its pid, wait for it.
		c := helperCommand("sleep")
		if err := c.Start(); err != nil {
			fmt.Println("spawn failed:", err)
			os.Exit(3)
		}
		fmt.Println(c.Process.Pid)
		c.Wait()
	case strings.HasPrefix(mode, "alloc:"):
		mb, _ := strconv.Atoi(strings.TrimPrefix(mode, "alloc:"))
		b := make([]byte, mb<<20)
		for i := range b {
			if i%4096 == 0 {
				b[i] = 1
			}
		}
	}
	os.Exit(0)
}

func helperCommand(mode string) *exec.Cmd {
	c := exec.Command(os.Args[0], "-test.run=^TestWindowsHelper$")
	c.Env = append(os.Environ(), helperEnv+"="+mode)
	return c
}

// startJobbed starts the helper in mode under a job with limits l, prepared
// without Check (Check refuses every policy here: filesystem confinement is
// missing).
func startJobbed(t *testing.T, l Limits, mode string) (*Child, *bytes.Buffer) {
	t.Helper()
	prep, err := prepare(Policy{Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	cmd := helperCommand(mode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	child, err := prep.Start(cmd)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return child, &out
}

func TestWindowsPrepareRefusesWithoutFilesystem(t *testing.T) {
	_, err := Prepare(Policy{Network: NetworkDenyAll})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "filesystem") {
		t.Errorf("Prepare err = %v, want ErrUnsupported naming filesystem confinement", err)
	}
}

func TestWindowsJobProcessLimit(t *testing.T) {
	// Admitted: two processes fit in a job of two.
	child, out := startJobbed(t, Limits{MaxProcesses: 2}, "spawn")
	time.Sleep(500 * time.Millisecond)
	child.Kill()
	child.Wait()
	if strings.Contains(out.String(), "spawn failed") {
		t.Errorf("grandchild refused under a limit of 2: %s", out)
	}
	// Refused: the grandchild does not fit in a job of one.
	child, out = startJobbed(t, Limits{MaxProcesses: 1}, "spawn")
	err := child.Wait()
	if err == nil || !strings.Contains(out.String(), "spawn failed") {
		t.Errorf("grandchild admitted under a limit of 1 (err %v): %s", err, out)
	}
}

func TestWindowsJobMemoryLimit(t *testing.T) {
	child, out := startJobbed(t, Limits{MemoryBytes: 256 << 20}, "alloc:16")
	if err := child.Wait(); err != nil {
		t.Errorf("16 MiB refused under 256 MiB: %v\n%s", err, out)
	}
	child, out = startJobbed(t, Limits{MemoryBytes: 256 << 20}, "alloc:512")
	if err := child.Wait(); err == nil {
		t.Errorf("512 MiB admitted under 256 MiB\n%s", out)
	}
}

func TestWindowsJobKillsTree(t *testing.T) {
	for _, how := range []string{"kill", "exit"} {
		t.Run(how, func(t *testing.T) {
			prep, err := prepare(Policy{})
			if err != nil {
				t.Fatal(err)
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cmd := helperCommand("spawn")
			cmd.Stdout = w
			child, err := prep.Start(cmd)
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			line := make([]byte, 32)
			n, _ := r.Read(line)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(line[:n])))
			if pid == 0 {
				child.Kill()
				child.Wait()
				t.Fatalf("no grandchild pid: %q", line[:n])
			}
			gc, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
			if err != nil {
				t.Fatalf("OpenProcess(grandchild): %v", err)
			}
			defer windows.CloseHandle(gc)
			if how == "kill" {
				if err := child.Kill(); err != nil {
					t.Fatal(err)
				}
			} else {
				// Kill only the direct child; closing the job after its
				// exit must take the grandchild with it.
				child.Cmd.Process.Kill()
			}
			child.Wait()
			if ev, _ := windows.WaitForSingleObject(gc, 5000); ev != windows.WAIT_OBJECT_0 {
				t.Errorf("grandchild %d survived (%s)", pid, how)
			}
		})
	}
}
