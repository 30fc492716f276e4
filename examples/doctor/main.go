// Command doctor reports what this host can enforce: the kernel mechanisms
// the sandbox builds on, the local backend's Capabilities, and the verdicts
// of the conformance kit (package sandboxtest) run against it.
//
//	go run ./examples/doctor          # text report
//	go run ./examples/doctor -json    # the same as one JSON document
//
// It exits 1 when a case escaped (the backend let through something it
// must stop), 2 when the kit itself could not run, and 0 otherwise; cases
// over-refused or not measured are reported but do not fail the doctor.
//
// The host facts are read from /proc and /sys with plain file reads; what
// the library itself relies on comes from Capabilities().Enforcement.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/go-sandbox/sandbox/sandboxtest"
)

func main() {
	asJSON := flag.Bool("json", false, "print one JSON document instead of text")
	rootDir := flag.String("root", "", "directory for the session roots (default: a fresh temp dir, removed at exit)")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on the whole run")
	flag.Parse()
	os.Exit(run(*asJSON, *rootDir, *timeout))
}

// fact is one line of the host report.
type fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func run(asJSON bool, rootDir string, timeout time.Duration) int {
	if rootDir == "" {
		d, err := os.MkdirTemp("", "sandbox-doctor-")
		if err == nil {
			// Reachable by the identity commands run as on a root host.
			err = os.Chmod(d, 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "doctor:", err)
			return 2
		}
		defer os.RemoveAll(d)
		rootDir = d
	}
	backend, err := sandbox.NewLocal(sandbox.LocalConfig{RootDir: rootDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "doctor:", err)
		return 2
	}
	caps := backend.Capabilities()
	facts := hostFacts(caps)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, kitErr := sandboxtest.Check(ctx, backend, sandboxtest.Options{})

	if asJSON {
		doc := struct {
			Host         []fact               `json:"host"`
			Capabilities sandbox.Capabilities `json:"capabilities"`
			Report       sandboxtest.Report   `json:"report"`
			Error        string               `json:"error,omitempty"`
		}{facts, caps, rep, errString(kitErr)}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
	} else {
		fmt.Println("== host mechanisms")
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		for _, f := range facts {
			fmt.Fprintf(tw, "%s\t%s\n", f.Name, f.Value)
		}
		tw.Flush()
		fmt.Println()
		fmt.Println("== capabilities of backend", backend.Name())
		printCapabilities(caps)
		fmt.Println()
		fmt.Println("== conformance")
		rep.WriteTo(os.Stdout)
	}
	if kitErr != nil {
		fmt.Fprintln(os.Stderr, "doctor: the kit could not run:", kitErr)
		return 2
	}
	if n := rep.Count(sandboxtest.Escaped); n > 0 {
		fmt.Fprintf(os.Stderr, "doctor: %d case(s) escaped\n", n)
		return 1
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// printCapabilities prints the five booleans and one line per enforced
// dimension.
func printCapabilities(c sandbox.Capabilities) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "local_process_sandbox\t%v\n", c.LocalProcessSandbox)
	fmt.Fprintf(tw, "network_policy\t%v\n", c.NetworkPolicy)
	fmt.Fprintf(tw, "snapshot / resume / suspend_on_idle\t%v / %v / %v\n", c.Snapshot, c.Resume, c.SuspendOnIdle)
	e := c.Enforcement
	fmt.Fprintf(tw, "os\t%s\n", e.OS)
	rows := []struct {
		name string
		m    fmt.Stringer
	}{
		{"session view", e.View}, {"filesystem", e.Filesystem}, {"network deny-all", e.NetworkDenyAll}, {"network allow-list", e.NetworkAllowList},
		{"unix sockets", e.UnixSockets}, {"syscalls", e.Syscalls}, {"process tree", e.ProcessTree},
		{"process tree (Unrestricted)", e.UnrestrictedProcessTree}, {"host file metadata", e.HostFileMetadata}, {"privileges", e.Privileges},
		{"limit: memory", e.Limits.Memory}, {"limit: cpu time", e.Limits.CPUTime}, {"limit: cpu count", e.Limits.CPUCount},
		{"limit: processes", e.Limits.MaxProcesses}, {"limit: file size", e.Limits.MaxFileSize}, {"limit: open files", e.Limits.MaxOpenFiles},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r.name, r.m)
	}
	tw.Flush()
}

// hostFacts describes the kernel mechanisms, from Capabilities and from
// files under /proc and /sys. Missing files say "unknown".
func hostFacts(c sandbox.Capabilities) []fact {
	f := []fact{{"os/arch", runtime.GOOS + "/" + runtime.GOARCH}}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f = append(f, fact{"kernel", strings.TrimSpace(string(b))})
	}
	if runtime.GOOS != "linux" {
		return f
	}
	ll := "not available"
	if abi := c.Enforcement.LandlockABI; abi > 0 {
		ll = fmt.Sprintf("ABI %d", abi)
	}
	if lsm := readTrim("/sys/kernel/security/lsm"); lsm != "" {
		ll += " (active LSMs: " + lsm + ")"
	}
	f = append(f, fact{"landlock", ll})
	f = append(f, fact{"seccomp", seccompFact()})
	f = append(f, fact{"user namespaces", userNSFact()})
	f = append(f, fact{"cgroup", cgroupFact()})
	yama := readTrim("/proc/sys/kernel/yama/ptrace_scope")
	if yama == "" {
		yama = "not present (PTRACE_TRACEME allowed)"
	}
	f = append(f, fact{"yama ptrace_scope", yama})
	f = append(f, fact{"running as", fmt.Sprintf("uid %d", os.Geteuid())})
	return f
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// statusField returns a field of /proc/self/status, and whether it exists.
func statusField(name string) (string, bool) {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return "", false
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func seccompFact() string {
	mode, ok := statusField("Seccomp")
	if !ok {
		return "not available (no Seccomp field in /proc/self/status: kernel without CONFIG_SECCOMP)"
	}
	s := "available (this process: mode " + mode
	if n, ok := statusField("Seccomp_filters"); ok {
		s += ", " + n + " filter(s)"
	}
	s += ")"
	if a := readTrim("/proc/sys/kernel/seccomp/actions_avail"); a != "" {
		s += "; actions: " + a
	}
	return s
}

func userNSFact() string {
	max := readTrim("/proc/sys/user/max_user_namespaces")
	if max == "" {
		return "unknown (/proc/sys/user/max_user_namespaces unreadable)"
	}
	s := "max_user_namespaces " + max
	if max == "0" {
		s += " (disabled)"
	}
	if v := readTrim("/proc/sys/kernel/unprivileged_userns_clone"); v != "" {
		s += ", unprivileged_userns_clone " + v
	}
	if v := readTrim("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); v != "" {
		s += ", apparmor_restrict_unprivileged_userns " + v
	}
	return s
}

// cgroupFact says whether /sys/fs/cgroup is a cgroup2 mount and whether
// this process's own cgroup could be delegated to (its cgroup.procs and
// cgroup.subtree_control open for writing; nothing is written).
func cgroupFact() string {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown (/proc/self/mounts unreadable)"
	}
	var v2 []string
	unified := false
	for _, line := range strings.Split(string(mounts), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 && fields[2] == "cgroup2" {
			v2 = append(v2, fields[1])
			if fields[1] == "/sys/fs/cgroup" {
				unified = true
			}
		}
	}
	var s string
	switch {
	case unified:
		s = "v2 (unified at /sys/fs/cgroup)"
	case len(v2) > 0:
		s = "hybrid: /sys/fs/cgroup is not cgroup2; cgroup2 at " + strings.Join(v2, ", ")
	default:
		return "v1 only (no cgroup2 mount): no cgroup delegation"
	}
	own := ""
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok {
				own = p
			}
		}
	}
	if own == "" {
		return s + "; own cgroup unknown"
	}
	dir := filepath.Join(v2[0], own)
	s += "; own cgroup " + own
	if c := readTrim(filepath.Join(dir, "cgroup.controllers")); c != "" {
		s += ", controllers: " + c
	} else {
		s += ", no controllers enabled"
	}
	writable := func(name string) bool {
		fh, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
		if err != nil {
			return false
		}
		fh.Close()
		return true
	}
	if writable("cgroup.procs") && writable("cgroup.subtree_control") {
		s += "; subtree writable (delegated)"
	} else {
		s += "; subtree not writable (not delegated)"
	}
	return s
}
