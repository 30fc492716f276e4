package osconfine

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireSandboxExec skips when the mechanism under test is missing.
func requireSandboxExec(t *testing.T) {
	t.Helper()
	if err := checkSandboxExec(); err != nil {
		t.Skipf("sandbox-exec is missing, nothing to test: %v", err)
	}
}

// darwinPolicy grants rw read-write, ro read-only and the shells the tests
// run; everything else in the test's temp dir stays outside.
func darwinPolicy(rw, ro string) Policy {
	return Policy{
		Paths: []PathRule{
			{Path: rw, Access: Read | Write},
			{Path: ro, Access: Read},
		},
		Network: NetworkDenyAll,
		TempDir: rw,
	}
}

// runConfined runs /bin/bash -c script under p and returns its combined
// output and error.
func runConfined(t *testing.T, p Policy, script string) (string, error) {
	t.Helper()
	prep, err := Prepare(p)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	defer prep.Close()
	return runScript(t, prep, "/bin/bash", "/usr/bin:/bin", script)
}

func testDirs(t *testing.T) (rw, ro, outside string) {
	base := t.TempDir() // below /var/folders: exercises /var -> /private/var
	rw, ro, outside = filepath.Join(base, "rw"), filepath.Join(base, "ro"), filepath.Join(base, "outside")
	for _, d := range []string{rw, ro, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{ro, outside} {
		if err := os.WriteFile(filepath.Join(d, "secret"), []byte("s3cret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return rw, ro, outside
}

func TestDarwinFilesystem(t *testing.T) {
	requireSandboxExec(t)
	rw, ro, outside := testDirs(t)
	p := darwinPolicy(rw, ro)
	cases := []struct {
		name   string
		script string
		admit  bool
	}{
		{"write inside rw root", fmt.Sprintf("echo hi > %q/f", rw), true},
		{"write outside", fmt.Sprintf("echo hi > %q/f", outside), false},
		{"read inside ro root", fmt.Sprintf("cat %q/secret", ro), true},
		{"write inside ro root", fmt.Sprintf("echo hi > %q/f", ro), false},
		{"read outside", fmt.Sprintf("cat %q/secret", outside), false},
		{"write /dev/null", "echo hi > /dev/null", true},
		{"write /private/tmp", "echo hi > /private/tmp/osconfine-test-$$", false},
		{"read master.passwd", "cat /private/etc/master.passwd", false},
		{"read /etc/hosts", "cat /etc/hosts", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runConfined(t, p, c.script)
			if c.admit && err != nil {
				t.Errorf("refused, want admitted: %v\n%s", err, out)
			}
			if !c.admit && err == nil {
				t.Errorf("admitted, want refused\n%s", out)
			}
		})
	}
}

// TestDarwinHostilePathName proves the escaping on the real reader: a root
// whose name would end the string literal still works as a root, and its
// sibling stays outside.
func TestDarwinHostilePathName(t *testing.T) {
	requireSandboxExec(t)
	base := t.TempDir()
	rw := filepath.Join(base, `we"ird\dir")) (allow default`)
	outside := filepath.Join(base, "outside")
	for _, d := range []string{rw, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := Policy{Paths: []PathRule{{Path: rw, Access: Read | Write}}, Network: NetworkDenyAll}
	cmdIn := fmt.Sprintf("echo hi > %s/f", shellQuote(rw))
	if out, err := runConfined(t, p, cmdIn); err != nil {
		t.Errorf("write inside the hostile root refused: %v\n%s", err, out)
	}
	cmdOut := fmt.Sprintf("echo hi > %s/f", shellQuote(outside))
	if out, err := runConfined(t, p, cmdOut); err == nil {
		t.Errorf("write outside admitted: the hostile name opened the profile\n%s", out)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func TestDarwinNetwork(t *testing.T) {
	requireSandboxExec(t)
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
	port := ln.Addr().(*net.TCPAddr).Port
	rw, ro, _ := testDirs(t)
	script := fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d", port)

	p := darwinPolicy(rw, ro)
	if out, err := runConfined(t, p, script); err == nil {
		t.Errorf("deny-all: connect admitted\n%s", out)
	}
	p.Network = NetworkUnrestricted
	if out, err := runConfined(t, p, script); err != nil {
		t.Errorf("unrestricted: connect refused: %v\n%s", err, out)
	}
	p.Network = NetworkAllowList
	if _, err := Prepare(p); !errors.Is(err, ErrUnsupported) {
		t.Errorf("allow-list: Prepare err = %v, want ErrUnsupported", err)
	}
}

func TestDarwinLimits(t *testing.T) {
	requireSandboxExec(t)
	if m := trampolineMechanism(); !m.Enforced {
		t.Skipf("rlimit trampoline unavailable: %s", m.Reason)
	}
	rw, ro, _ := testDirs(t)
	p := darwinPolicy(rw, ro)
	// The test binary is the trampoline; the profile need not grant it,
	// because it runs before sandbox-exec.
	p.Limits = Limits{MaxOpenFiles: 37, CPUTime: 1500 * time.Millisecond}
	out, err := runConfined(t, p, "ulimit -n; ulimit -t; ulimit -Hn")
	if err != nil {
		t.Fatalf("limited child failed: %v\n%s", err, out)
	}
	if got := strings.Fields(out); len(got) != 3 || got[0] != "37" || got[1] != "2" || got[2] != "37" {
		t.Errorf("limits seen by the child = %q, want 37, 2 (rounded up), 37", out)
	}
	// Admitted / refused pair: 30 descriptors fit, 40 do not.
	open := func(n int) string {
		return fmt.Sprintf("for i in $(seq 3 %d); do eval \"exec $i</dev/null\" || exit 1; done", n)
	}
	if out, err := runConfined(t, p, open(30)); err != nil {
		t.Errorf("30 descriptors refused: %v\n%s", err, out)
	}
	if out, err := runConfined(t, p, open(40)); err == nil {
		t.Errorf("40 descriptors admitted under a limit of 37\n%s", out)
	}
	p.Limits = Limits{MemoryBytes: 1 << 30}
	if _, err := Prepare(p); !errors.Is(err, ErrUnsupported) {
		t.Errorf("memory limit: Prepare err = %v, want ErrUnsupported", err)
	}
}

func TestDarwinProcessTree(t *testing.T) {
	requireSandboxExec(t)
	rw, ro, _ := testDirs(t)
	prep, err := Prepare(darwinPolicy(rw, ro))
	if err != nil {
		t.Fatal(err)
	}
	checkGroupTreeDies(t, prep.Start, "/bin/bash")
}

func TestDarwinPrepareFailsClosed(t *testing.T) {
	requireSandboxExec(t)
	p := Policy{Paths: []PathRule{{Path: "/nonexistent/osconfine", Access: Read}}, Network: NetworkDenyAll}
	if _, err := Prepare(p); err == nil {
		t.Error("missing required path: Prepare succeeded")
	}
	p.Paths[0].Optional = true
	if _, err := Prepare(p); err != nil {
		t.Errorf("missing optional path: %v", err)
	}
}

// runScript runs shell -c script through prep with a minimal environment
// and returns its combined output and the Wait error.
func runScript(t *testing.T, prep *Prepared, shell, path, script string) (string, error) {
	t.Helper()
	cmd := exec.Command(shell, "-c", script)
	cmd.Env = []string{"PATH=" + path, "LANG=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	child, err := prep.Start(cmd)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	err = child.Wait()
	return out.String(), err
}
