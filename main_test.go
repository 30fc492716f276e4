package sandbox

import (
	"fmt"
	"net"
	"os"
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

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv(helperArgEnv)))
	}
	os.Exit(m.Run())
}

// runHelper is the child side of the tests. It prints what it did on
// stdout, so the test judges by what happened rather than by exit code alone.
func runHelper(mode, arg string) int {
	switch mode {
	case "alloc":
		allocAndTouch(arg)
		return 0
	case "openfiles":
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
	case "dial":
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
	case "hello":
		fmt.Println("helper says hello")
		return 0
	case "orphan-host":
		return runOrphanHost(arg)
	case "syscalls", "tty", "sockets", "udp", "netinfo", "unixconnect", "euid", "open", "fsops", "host":
		return runHardeningHelper(mode, arg)
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
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
