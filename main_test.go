package sandbox

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// The test binary doubles as the helper program children run (as in
// os/exec's tests): when helperEnv names a mode, the binary does that and
// exits instead of running the tests. Children get a scrubbed environment, so
// tests pass the mode through ExecRequest.Env.
const (
	helperEnv = "SANDBOX_TEST_HELPER"
	// helperArgEnv carries the mode's argument (a size, a count, an address).
	helperArgEnv = "SANDBOX_TEST_HELPER_ARG"
)

// This initialiser runs during package initialisation, before TestMain and
// before any other code of the test binary: in mode "alloc-first" its very
// first action is to allocate and touch the size it is given. Under an
// address-space limit set before the first instruction it must fail.
var _ = func() bool {
	if os.Getenv(helperEnv) != "alloc-first" {
		return false
	}
	allocAndTouch(os.Getenv(helperArgEnv))
	os.Exit(0)
	return true
}()

// helperModes maps a helper mode to what the child does in it. Modes are
// registered with registerHelper from init functions: this file's own and
// orphan-host (reliability_reclaim_test.go) below, the hardening modes of
// the external test package (sandbox_test) through RegisterHelper
// (export_linux_test.go).
var helperModes = map[string]func(arg string) int{}

// registerHelper adds a helper mode; a name registered twice is a bug.
func registerHelper(mode string, f func(arg string) int) {
	if _, dup := helperModes[mode]; dup {
		panic("helper mode " + mode + " registered twice")
	}
	helperModes[mode] = f
}

func init() {
	registerHelper("alloc", func(arg string) int {
		allocAndTouch(arg)
		return 0
	})
	registerHelper("openfiles", helperOpenFiles)
	registerHelper("dial", helperDial)
	registerHelper("hello", func(string) int {
		fmt.Println("helper says hello")
		return 0
	})
	registerHelper("orphan-host", runOrphanHost)
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv(helperArgEnv)))
	}
	os.Exit(m.Run())
}

// runHelper is the child side of the tests. Modes print what they did on
// stdout, so the test judges by what happened rather than by exit code alone.
func runHelper(mode, arg string) int {
	if f := helperModes[mode]; f != nil {
		return f(arg)
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q on %s\n", mode, runtime.GOOS)
	return 2
}

// helperOpenFiles opens /dev/null arg times and reports how often it could.
func helperOpenFiles(arg string) int {
	n, _ := strconv.Atoi(arg)
	var files []*os.File
	for i := 0; i < n; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			fmt.Printf("opened %d\n", len(files))
			fmt.Fprintf(os.Stderr, "open: %v\n", err)
			return 1
		}
		files = append(files, f)
	}
	fmt.Printf("opened %d\n", len(files))
	return 0
}

// helperDial connects to the TCP address arg and writes a line.
func helperDial(arg string) int {
	c, err := net.Dial("tcp", arg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial: %v\n", err)
		return 1
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello from the child\n")); err != nil {
		fmt.Fprintf(os.Stderr, "write: %v\n", err)
		return 1
	}
	fmt.Println("connected")
	return 0
}

// allocAndTouch allocates arg MiB, writes every page and reports it. The
// runtime aborts the process when the allocation is refused.
func allocAndTouch(arg string) {
	mib, err := strconv.Atoi(arg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad size %q\n", arg)
		os.Exit(2)
	}
	b := make([]byte, mib<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	fmt.Printf("allocated %d MiB\n", len(b)>>20)
}
