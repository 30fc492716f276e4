//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzLimitsHoldWhatIsAccepted: a limit Provision would accept converts to
// exactly the bytes it names, below what the kernel treats as no limit;
// one it refuses is an invalid request.
func FuzzLimitsHoldWhatIsAccepted(f *testing.F) {
	for _, v := range []uint64{0, 1, MaxLimitMB, MaxLimitMB + 1, 1 << 44, 1<<44 + 1, 1<<64 - 1} {
		f.Add(v, v, v%(1<<23), v%(1<<32))
	}
	f.Fuzz(func(t *testing.T, memMB, fileMB, procs, files uint64) {
		l := Limits{MemoryMB: memMB, MaxFileSizeMB: fileMB, MaxProcesses: procs, MaxOpenFiles: files}
		if err := l.validate(); err != nil {
			if memMB <= MaxLimitMB && fileMB <= MaxLimitMB && procs <= MaxLimitProcesses && files <= MaxLimitOpenFiles {
				t.Fatalf("%+v refused: %v", l, err)
			}
			return
		}
		o := osLimits(l)
		const noLimit = 1 << 63 // the kernel's memory counters saturate here
		if o.MemoryBytes>>20 != memMB || o.MemoryBytes&(1<<20-1) != 0 || o.MemoryBytes >= noLimit {
			t.Fatalf("memory %d MiB became %d bytes", memMB, o.MemoryBytes)
		}
		if o.MaxFileSize>>20 != fileMB || o.MaxFileSize >= noLimit {
			t.Fatalf("file size %d MiB became %d bytes", fileMB, o.MaxFileSize)
		}
		if o.MaxProcesses != procs || o.MaxOpenFiles != files {
			t.Fatalf("%+v became %+v", l, o)
		}
	})
}

// The largest accepted limits reach the child exactly; one past the
// host's ceiling is refused before anything runs.
func TestLimitsAtTheirBoundsAreEnforcedAsGiven(t *testing.T) {
	l, _ := newLocal(t)
	requireLimit(t, l, "file size", fsizeMech)
	requireLimit(t, l, "open files", nofileMech)
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	sess := provision(t, l, Spec{Limits: Limits{MaxFileSizeMB: MaxLimitMB, MaxOpenFiles: nofile.Max}})
	res := run(t, l, sess.ID, ExecRequest{Command: "cat", Args: []string{"/proc/self/limits"}})
	got := procLimits(t, string(res.Stdout))
	if want := fmt.Sprint(uint64(MaxLimitMB) << 20); got["Max file size"] != want {
		t.Errorf("Max file size %q, want %s", got["Max file size"], want)
	}
	if want := fmt.Sprint(nofile.Max); got["Max open files"] != want {
		t.Errorf("Max open files %q, want %s", got["Max open files"], want)
	}
	if nofile.Max < MaxLimitOpenFiles {
		_, err := l.Provision(context.Background(), Spec{Limits: Limits{MaxOpenFiles: nofile.Max + 1}})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("open files one above the hard limit: %v, want ErrInvalidRequest", err)
		}
	}
}

// procLimits reads the soft limits of /proc/<pid>/limits by name.
func procLimits(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 26 || strings.HasPrefix(line, "Limit") {
			continue
		}
		fields := strings.Fields(line[25:])
		if len(fields) > 0 {
			out[strings.TrimSpace(line[:25])] = fields[0]
		}
	}
	return out
}
