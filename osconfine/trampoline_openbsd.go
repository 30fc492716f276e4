package osconfine

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The pledge trampoline. pledge(2)'s execpromises apply to the image a
// process execs next, and to every image after it; that is the only pledge
// a parent can hand to a child, and it must be set by the process that
// execs. Calling it in the host would bind every later child of the host,
// for good (execpromises only shrink), and Go has no hook between fork and
// exec. So the child is started as the host's own executable with
// trampolineFlag: the package init below (which runs in every binary that
// links this package, before main) sets the rlimits and the execpromises
// on itself and execs the command, which starts pledged and limited.
//
// The trampoline runs unpledged, but only runs code of the host binary and
// execs the argv the host built. Any process can run the host binary with
// the flag; it only restricts itself. Caveats: the init functions of
// packages initialized before this one also run in the trampoline; the
// trampoline is whatever file os.Executable names, which on OpenBSD is
// derived from argv[0] and the working directory at start-up, so a host
// started through a misleading argv[0], or replaced on disk, cannot be used
// (Start fails when the file is not executable) or is run in its place.
//
// unveil(2) cannot be handed on this way: unveil is dropped at execve.

const trampolineFlag = "-osconfine-pledge-trampoline-v1"

func init() {
	// argv: exe flag rlimits execpromises path argv0 args...
	if len(os.Args) >= 6 && os.Args[1] == trampolineFlag {
		runTrampoline(os.Args[2], os.Args[3], os.Args[4], os.Args[5:])
	}
}

// runTrampoline applies the rlimits in spec and the execpromises and execs
// path with argv. It never returns: on any error it exits with status 126,
// so the command never runs unpledged or unlimited.
func runTrampoline(spec, promises, path string, argv []string) {
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "osconfine: pledge trampoline: %v\n", err)
		os.Exit(126)
	}
	if err := applyRlimits(spec); err != nil {
		fail(err)
	}
	if err := unix.PledgeExecpromises(promises); err != nil {
		fail(fmt.Errorf("pledge execpromises %q: %w", promises, err))
	}
	// syscall.Exec, not unix.Exec: the standard library restores the
	// RLIMIT_NOFILE soft limit the runtime raised at start-up unless
	// syscall.Setrlimit set it, which is exactly what we want.
	fail(syscall.Exec(path, argv, os.Environ()))
}

// trampolineMechanism reports whether the host executable can serve as the
// trampoline.
func trampolineMechanism() Mechanism {
	if _, err := trampolinePath(); err != nil {
		return notEnforced("no route to the child: " + err.Error())
	}
	return enforcedBy("a re-exec of the host executable")
}

// memoryRlimit bounds memory on OpenBSD: RLIMIT_DATA is enforced there.
const memoryRlimit = unix.RLIMIT_DATA

// clampRlimit needs no OS-specific bound on OpenBSD.
func clampRlimit(res int, v uint64) uint64 { return v }
