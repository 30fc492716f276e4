package osconfine

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The rlimit trampoline. macOS offers no way to set another process's
// rlimits and Go has no hook between fork and exec, so a child that needs
// limits is started as the host's own executable with trampolineFlag: the
// package init below (which runs in every binary that links this package,
// before main) sets the rlimits on itself and execs sandbox-exec, which
// inherits them across exec, as does the command after it. The limits are
// in force before the command's first instruction.
//
// The trampoline runs unconfined, but it only runs code of the host binary
// and execs the argv the host built. Any process can run the host binary
// with the flag; it gains nothing by it (it lowers its own limits). Caveats:
// the init functions of packages initialized before this one also run in
// the trampoline; and the trampoline is whatever file os.Executable names
// at start time, so a host binary replaced on disk while it runs is run in
// its place (a binary without this package would not apply the limits and
// would see the flag as its first argument).

const trampolineFlag = "-osconfine-rlimit-trampoline-v1"

func init() {
	if len(os.Args) >= 4 && os.Args[1] == trampolineFlag {
		runTrampoline(os.Args[2], os.Args[3:])
	}
}

// runTrampoline applies the rlimits in spec and execs argv. It never
// returns: on any error it exits with status 126, the shell's status for a
// command that could not be run, so that the command never runs without its
// limits.
func runTrampoline(spec string, argv []string) {
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "osconfine: rlimit trampoline: %v\n", err)
		os.Exit(126)
	}
	if err := applyRlimits(spec); err != nil {
		fail(err)
	}
	// syscall.Exec, not unix.Exec: the standard library restores the
	// RLIMIT_NOFILE soft limit the runtime raised at start-up unless
	// syscall.Setrlimit set it, which is exactly what we want.
	fail(syscall.Exec(argv[0], argv, os.Environ()))
}

// trampolineMechanism reports whether the host executable can serve as the
// trampoline.
func trampolineMechanism() Mechanism {
	if _, err := trampolinePath(); err != nil {
		return notEnforced("no rlimit route: " + err.Error())
	}
	return enforcedBy("a re-exec of the host executable before sandbox-exec")
}

// clampRlimit keeps the descriptor limit at or below kern.maxfilesperproc,
// since macOS refuses a higher one.
func clampRlimit(res int, v uint64) uint64 {
	if res == unix.RLIMIT_NOFILE {
		if m, err := unix.SysctlUint32("kern.maxfilesperproc"); err == nil {
			v = min(v, uint64(m))
		}
	}
	return v
}

// hasRlimits reports whether l sets a limit the trampoline applies.
func hasRlimits(l Limits) bool {
	return l.CPUTime > 0 || l.MaxProcesses > 0 || l.MaxFileSize > 0 || l.MaxOpenFiles > 0
}
