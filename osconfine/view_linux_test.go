//go:build linux

package osconfine

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// useExecHolders makes the views this test starts use holders of the given
// kind, and drops the spare inits started with the other.
func useExecHolders(t *testing.T, on bool) {
	t.Helper()
	dropSpares := func() {
		spareInits.mu.Lock()
		ready := spareInits.ready
		spareInits.ready = make(map[Identity]*spare)
		spareInits.mu.Unlock()
		for _, sp := range ready {
			<-sp.done
			if sp.v != nil {
				sp.v.Close()
			}
		}
	}
	old := execHolders
	execHolders = on
	dropSpares()
	t.Cleanup(func() {
		execHolders = old
		dropSpares()
	})
}

// TestViewCommandsBelowAHolder runs a command in a view with each kind of
// holder (cloned from the init where procfs takes the pidns option, and
// this executable again): it sees only its own PID namespace in /proc, is
// not its first process (kill $$ ends it), and what it leaves behind is
// gone when its end is reported.
func TestViewCommandsBelowAHolder(t *testing.T) {
	if m := Probe().View; !m.Enforced {
		t.Skipf("session views not available: %s", m.Reason)
	}
	kinds := []bool{true}
	if cloneHoldersWork() {
		kinds = append(kinds, false)
	} else {
		t.Log("procfs has no pidns option here: only holders that are this executable are tested")
	}
	for _, exe := range kinds {
		t.Run(fmt.Sprintf("exec_holders=%v", exe), func(t *testing.T) {
			useExecHolders(t, exe)
			stage, work := t.TempDir(), t.TempDir()
			v, err := StartView(ViewSpec{Stage: stage, Mounts: []ViewMount{{Source: work, Target: "/workspace"}},
				Owner: Identity{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			prep, err := v.Prepare(Policy{Paths: []PathRule{{Path: "/workspace", Access: Read | Write | Execute}}})
			if err != nil {
				t.Fatal(err)
			}
			defer prep.Close()

			mark := fmt.Sprintf("holder-mark-%d-%d", os.Getpid(), time.Now().UnixNano())
			script := `cat /proc/[0-9]*/comm | sort | tr '\n' ' '; echo
setsid sh -c 'sleep 300; : "$1"' sh "$1" &
sleep 0.2; kill -TERM $$; echo survived`
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", script, "sh", mark},
				Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/workspace", Stdout: w}
			child, err := prep.Start(cmd)
			w.Close()
			if err != nil {
				r.Close()
				t.Fatal(err)
			}
			out, _ := io.ReadAll(r)
			r.Close()
			st := child.Exit()
			if st.Signal != "terminated" || strings.Contains(string(out), "survived") {
				t.Errorf("kill $$ did not end the shell: %+v, output %q", st, out)
			}
			names := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
			for _, n := range names {
				if n != "exe" && n != "sh" && n != "cat" && n != "sort" && n != "tr" {
					t.Errorf("/proc shows %q, not a process of the command's namespace: %v", n, names)
				}
			}
			if len(names) == 0 || !strings.Contains(strings.Join(names, " "), "sh") {
				t.Errorf("/proc does not show the shell itself: %v", names)
			}
			if left := markedProcesses(mark); len(left) > 0 {
				t.Errorf("processes outlived the command's reported end: %v", left)
			}
			// The holder that served it is still there, idle, of the kind asked.
			if holders := markedProcesses("go-sandbox-holder"); (len(holders) > 0) != exe {
				t.Errorf("holders that are this executable: %v, want some: %v", holders, exe)
			}
		})
	}
}

// markedProcesses returns the pids whose command line holds mark.
func markedProcesses(mark string) []string {
	var out []string
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), mark) {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}

func init() {
	linuxHelpers["say"] = func(arg string) error {
		fmt.Println("normal run:", arg)
		return nil
	}
}

// TestViewTriggerNeedsEveryPart starts this test binary with the init's
// token variable set but some other part of the guard missing: each time
// it must run as usual (its helper prints), never become an init (which
// would wait for a message and print nothing).
func TestViewTriggerNeedsEveryPart(t *testing.T) {
	token := strings.Repeat("ab", 16)
	run := func(t *testing.T, cmd *exec.Cmd) {
		t.Helper()
		cmd.Env = append(cmd.Env, viewInitEnv+"="+token)
		timer := time.AfterFunc(30*time.Second, func() {
			if cmd.Process != nil {
				cmd.Process.Kill()
			}
		})
		defer timer.Stop()
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "normal run: ok") {
			t.Fatalf("the variable alone changed the run: %q, %v", out, err)
		}
	}
	t.Run("variable only", func(t *testing.T) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), linuxHelperEnv+"=say", linuxHelperArgEnv+"=ok")
		run(t, cmd)
	})
	t.Run("variable and a seqpacket socket, not PID 1", func(t *testing.T) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
		defer ours.Close()
		defer theirs.Close()
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), linuxHelperEnv+"=say", linuxHelperArgEnv+"=ok")
		cmd.ExtraFiles = []*os.File{theirs}
		run(t, cmd)
	})
	t.Run("variable and PID 1, no socket", func(t *testing.T) {
		cmd := helperCommand(os.Args[0], "say", "ok", os.Getuid(), os.Getgid())
		run(t, cmd)
	})
	t.Run("variable, PID 1 and the socket, but another token", func(t *testing.T) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		theirs := os.NewFile(uintptr(fds[1]), "theirs")
		defer theirs.Close()
		ours, err := newViewConn(fds[0])
		if err != nil {
			t.Fatal(err)
		}
		defer ours.close()
		if err := ours.send(&viewMsg{Op: "hello", Token: strings.Repeat("cd", 16), Mode: "init"}); err != nil {
			t.Fatal(err)
		}
		cmd := helperCommand(os.Args[0], "say", "ok", os.Getuid(), os.Getgid())
		cmd.ExtraFiles = []*os.File{theirs}
		run(t, cmd)
	})
}
