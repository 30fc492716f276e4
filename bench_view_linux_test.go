package sandbox_test

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
)

// Benchmarks of the session's view against the baselines its issue names:
// exec with every limit against plain os/exec without any, and a session's
// whole short life against one bubblewrap sandbox.

// BenchmarkExecLimitsVsPlain: /bin/true with memory, process, CPU and file
// limits through the local backend, against plain os/exec without limits,
// interleaved.
func BenchmarkExecLimitsVsPlain(b *testing.B) {
	l, net := benchBackend(b)
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
	warm(b, l, limited.ID, c)
	interleave(b, "plain-ns/op", func() error {
		_, err := plainExec(c)
		return err
	}, func() error {
		_, err := sandboxExec(l, limited.ID, c)
		return err
	})
}

// BenchmarkSessionLife: provision, a first exec of /bin/true and terminate,
// against one `bwrap --unshare-all /bin/true` (bench/bwrap.sh installs
// bubblewrap), interleaved. Without bwrap the baseline is a plain os/exec
// of /bin/true, and the log says so.
func BenchmarkSessionLife(b *testing.B) {
	l, net := benchBackend(b)
	ctx := context.Background()
	baseline, unit := plainTrue, "plain-ns/op"
	if path, err := exec.LookPath("bwrap"); err == nil {
		args := []string{"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
			"--unshare-all", "--die-with-parent", "--new-session", "/bin/true"}
		if exec.Command(path, args...).Run() == nil {
			baseline, unit = func() error { return exec.Command(path, args...).Run() }, "bwrap-ns/op"
		} else {
			b.Logf("bwrap cannot make its namespaces here: baseline is a plain exec")
		}
	} else {
		b.Logf("bwrap not installed (bench/bwrap.sh installs it): baseline is a plain exec")
	}
	interleave(b, unit, baseline, func() error {
		s, err := l.Provision(ctx, sandbox.Spec{Profile: sandbox.OSHardened, NetworkPolicy: net})
		if err != nil {
			return err
		}
		if _, err := l.Exec(ctx, s.ID, sandbox.ExecRequest{Command: "/bin/true"}); err != nil {
			return err
		}
		return l.Terminate(ctx, s.ID)
	})
}

func plainTrue() error { return exec.Command("/bin/true").Run() }
