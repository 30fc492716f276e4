package osconfine

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// requirePledgeRoute skips when the trampoline that hands pledge to the
// child cannot run.
func requirePledgeRoute(t *testing.T) {
	t.Helper()
	if m := trampolineMechanism(); !m.Enforced {
		t.Skipf("pledge trampoline unavailable: %s", m.Reason)
	}
}

// runPledged runs /bin/sh -c script under p, prepared without Check
// (Check refuses every policy here: filesystem confinement is missing).
func runPledged(t *testing.T, p Policy, script string) (string, error) {
	t.Helper()
	prep, err := prepare(p)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	defer prep.Close()
	return runScript(t, prep, "/bin/sh", "/usr/bin:/bin:/usr/sbin:/sbin", script)
}

func TestOpenBSDPrepareRefusesWithoutFilesystem(t *testing.T) {
	_, err := Prepare(Policy{Network: NetworkDenyAll})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "filesystem") {
		t.Errorf("Prepare err = %v, want ErrUnsupported naming filesystem confinement", err)
	}
}

func TestOpenBSDNetwork(t *testing.T) {
	requirePledgeRoute(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	script := fmt.Sprintf("nc -z 127.0.0.1 %d", ln.Addr().(*net.TCPAddr).Port)
	if out, err := runPledged(t, Policy{Network: NetworkDenyAll}, script); err == nil {
		t.Errorf("deny-all: connect admitted\n%s", out)
	}
	if out, err := runPledged(t, Policy{Network: NetworkUnrestricted}, script); err != nil {
		t.Errorf("unrestricted: connect refused: %v\n%s", err, out)
	}
}

func TestOpenBSDLimits(t *testing.T) {
	requirePledgeRoute(t)
	p := Policy{Network: NetworkDenyAll, Limits: Limits{MaxOpenFiles: 37, CPUTime: 1500 * time.Millisecond}}
	out, err := runPledged(t, p, "ulimit -n; ulimit -t; ulimit -Hn")
	if err != nil {
		t.Fatalf("limited child failed: %v\n%s", err, out)
	}
	if got := strings.Fields(out); len(got) != 3 || got[0] != "37" || got[1] != "2" || got[2] != "37" {
		t.Errorf("limits seen by the child = %q, want 37, 2 (rounded up), 37", out)
	}
	// Admitted / refused pair: 30 descriptors fit, 40 do not.
	open := func(n int) string {
		return fmt.Sprintf("i=3; while [ $i -le %d ]; do eval \"exec $i</dev/null\" || exit 1; i=$((i+1)); done", n)
	}
	if out, err := runPledged(t, p, open(30)); err != nil {
		t.Errorf("30 descriptors refused: %v\n%s", err, out)
	}
	if out, err := runPledged(t, p, open(40)); err == nil {
		t.Errorf("40 descriptors admitted under a limit of 37\n%s", out)
	}
}

func TestOpenBSDProcessTree(t *testing.T) {
	requirePledgeRoute(t)
	prep, err := prepare(Policy{Network: NetworkDenyAll})
	if err != nil {
		t.Fatal(err)
	}
	checkGroupTreeDies(t, prep, "/bin/sh")
}
