package sandbox_test

// Benchmarks of the local backend. Each one measures its baseline in the
// same run, interleaved with the sandboxed work, and reports "ratio"
// (sandboxed cost / baseline cost; above 1 means slower). Run them with
//
//	go test -run '^$' -bench . -benchtime 200x .
//
// The sessions use OSHardened with a deny-all network; where this host
// cannot enforce deny-all, Provision answers ErrUnsupported and the
// benchmarks fall back to an unrestricted network and say so in the log.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
)

type benchCommand struct {
	name string
	path string
	args []string
}

var benchCommands = []benchCommand{
	{"true", "/bin/true", nil},
	{"sh_cat_hostname", "/bin/sh", []string{"-c", "cat /etc/hostname > /dev/null"}},
}

// benchBackend returns a local backend and the network policy its sessions
// use: deny-all when this host enforces it, unrestricted otherwise.
func benchBackend(b *testing.B) (*sandbox.Local, sandbox.NetworkPolicy) {
	b.Helper()
	l, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: sandboxtest.RootDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	net := sandbox.DenyAll()
	s, err := l.Provision(context.Background(), sandbox.Spec{Profile: sandbox.OSHardened, NetworkPolicy: net})
	if errors.Is(err, sandbox.ErrUnsupported) {
		b.Logf("deny-all network not enforceable here, measuring with an unrestricted network: %v", err)
		net = sandbox.AllowAll()
		s, err = l.Provision(context.Background(), sandbox.Spec{Profile: sandbox.OSHardened, NetworkPolicy: net})
	}
	if errors.Is(err, sandbox.ErrUnsupported) {
		b.Skipf("OSHardened cannot run here: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	l.Terminate(context.Background(), s.ID)
	return l, net
}

func benchSession(b *testing.B, l *sandbox.Local, net sandbox.NetworkPolicy) *sandbox.Session {
	b.Helper()
	s, err := l.Provision(context.Background(), sandbox.Spec{Profile: sandbox.OSHardened, NetworkPolicy: net})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Terminate(context.Background(), s.ID) })
	return s
}

// plainExec is the baseline: os/exec of the same command, with a clean
// environment and stdout and stderr captured, as the backend does.
func plainExec(c benchCommand) (int, error) {
	cmd := exec.Command(c.path, c.args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = []string{"PATH=" + sandbox.DefaultPath, "LANG=C.UTF-8"}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func sandboxExec(l *sandbox.Local, id sandbox.SessionID, c benchCommand) (*sandbox.ExecResult, error) {
	return l.Exec(context.Background(), id, sandbox.ExecRequest{Command: c.path, Args: c.args})
}

// warm runs both once so that first-use costs (the pidfd probe, the
// prepared policy) stay out of the measurement, and says when the command
// exits differently under the sandbox.
func warm(b *testing.B, l *sandbox.Local, id sandbox.SessionID, c benchCommand) {
	b.Helper()
	want, err := plainExec(c)
	if err != nil {
		b.Fatal(err)
	}
	res, err := sandboxExec(l, id, c)
	if err != nil {
		b.Fatal(err)
	}
	if res.ExitCode != want {
		b.Logf("%s exits %d under the sandbox, %d plain: %s", c.name, res.ExitCode, want, bytes.TrimSpace(res.Stderr))
	}
}

// BenchmarkExec: one command through the local backend versus plain
// os/exec, interleaved iteration by iteration. ns/op is the sandboxed exec.
func BenchmarkExec(b *testing.B) {
	for _, c := range benchCommands {
		b.Run(c.name, func(b *testing.B) {
			l, net := benchBackend(b)
			s := benchSession(b, l, net)
			warm(b, l, s.ID, c)
			interleave(b, "plain-ns/op", func() error {
				_, err := plainExec(c)
				return err
			}, func() error {
				_, err := sandboxExec(l, s.ID, c)
				return err
			})
		})
	}
}

// BenchmarkExecLimits: the added cost of enforcing resource limits (the
// exec stop, the rlimits, and where available a cgroup per command) on
// /bin/true, as a ratio to the same exec without limits, interleaved.
func BenchmarkExecLimits(b *testing.B) {
	l, net := benchBackend(b)
	plain := benchSession(b, l, net)
	limited, err := l.Provision(context.Background(), sandbox.Spec{Profile: sandbox.OSHardened, NetworkPolicy: net,
		Limits: sandbox.Limits{MemoryMB: 1024, CPUTime: 10 * time.Second, MaxProcesses: 256, MaxFileSizeMB: 1024, MaxOpenFiles: 1024}})
	if errors.Is(err, sandbox.ErrUnsupported) {
		b.Skipf("resource limits not enforceable here: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Terminate(context.Background(), limited.ID) })
	c := benchCommands[0]
	warm(b, l, plain.ID, c)
	warm(b, l, limited.ID, c)
	interleave(b, "nolimits-ns/op", func() error {
		_, err := sandboxExec(l, plain.ID, c)
		return err
	}, func() error {
		_, err := sandboxExec(l, limited.ID, c)
		return err
	})
}

// BenchmarkProvisionTerminate: a session's whole life with no command,
// versus creating and removing the same directory tree with package os.
func BenchmarkProvisionTerminate(b *testing.B) {
	l, net := benchBackend(b)
	base := sandboxtest.RootDir(b)
	ctx := context.Background()
	interleave(b, "mkdir-rm-ns/op", func() error {
		root, err := os.MkdirTemp(base, "s-")
		if err != nil {
			return err
		}
		for _, d := range []string{"work", "home", "tmp", "mounts", "mounts/0-mnt_memory", "mounts/1-mnt_session_outputs"} {
			if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
				return err
			}
		}
		return os.RemoveAll(root)
	}, func() error {
		s, err := l.Provision(ctx, sandbox.Spec{Profile: sandbox.OSHardened, NetworkPolicy: net})
		if err != nil {
			return err
		}
		return l.Terminate(ctx, s.ID)
	})
}

// interleave runs baseline and measured alternately b.N times and reports
// measured's ns/op, baseline's as baselineUnit, and their ratio: both see
// the same drift of a shared, noisy machine.
func interleave(b *testing.B, baselineUnit string, baseline, measured func() error) {
	b.Helper()
	var base, meas time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := baseline(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := measured(); err != nil {
			b.Fatal(err)
		}
		base += t1.Sub(t0)
		meas += time.Since(t1)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(meas.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/n, baselineUnit)
	b.ReportMetric(float64(meas)/float64(base), "ratio")
}

// BenchmarkConcurrentSessions: 8 sessions, one worker each, running
// /bin/true until b.N execs are done in total, versus 8 workers running
// plain os/exec. The phases alternate in rounds so that drift hits both.
// ratio is plain throughput / sandboxed throughput.
func BenchmarkConcurrentSessions(b *testing.B) {
	const workers = 8
	l, net := benchBackend(b)
	c := benchCommands[0]
	ids := make([]sandbox.SessionID, workers)
	for i := range ids {
		ids[i] = benchSession(b, l, net).ID
		warm(b, l, ids[i], c)
	}
	phase := func(n int, run func(w int) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Value
		t0 := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					if err := run(w); err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	const rounds = 4
	var plain, boxed time.Duration
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		n := b.N / rounds
		if r == rounds-1 {
			n = b.N - 3*(b.N/rounds)
		}
		plain += phase(n, func(int) error { _, err := plainExec(c); return err })
		boxed += phase(n, func(w int) error { _, err := sandboxExec(l, ids[w], c); return err })
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(n/boxed.Seconds(), "execs/s")
	b.ReportMetric(n/plain.Seconds(), "plain-execs/s")
	b.ReportMetric(float64(boxed)/float64(plain), "ratio")
	b.ReportMetric(float64(boxed.Nanoseconds())/n, "ns/op")
}

// BenchmarkExecMemory: bytes and allocations of this process per exec of
// /bin/true, sandboxed and plain, from runtime.MemStats around each phase
// (so goroutines the exec leaves working are counted too).
func BenchmarkExecMemory(b *testing.B) {
	l, net := benchBackend(b)
	s := benchSession(b, l, net)
	c := benchCommands[0]
	warm(b, l, s.ID, c)
	b.ReportAllocs()
	measure := func(run func() error) (bytes, allocs uint64) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < b.N; i++ {
			if err := run(); err != nil {
				b.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs
	}
	b.ResetTimer()
	pb, pa := measure(func() error { _, err := plainExec(c); return err })
	sb, sa := measure(func() error { _, err := sandboxExec(l, s.ID, c); return err })
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(sb)/n, "sandbox-B/exec")
	b.ReportMetric(float64(sa)/n, "sandbox-allocs/exec")
	b.ReportMetric(float64(pb)/n, "plain-B/exec")
	b.ReportMetric(float64(pa)/n, "plain-allocs/exec")
	b.ReportMetric(float64(sb)/float64(pb), "ratio-B")
	b.ReportMetric(float64(sa)/float64(pa), "ratio-allocs")
}
