package osconfine

import (
	"errors"
	"fmt"
	"os/exec"
)

// OpenBSD confines a child with pledge(2) execpromises, handed to it by a
// re-exec of the host executable (trampoline_openbsd.go), together with its
// rlimits. What that gives, and what it cannot:
//
//   - Syscalls: the child and everything it execs is pledged to the
//     promises execPromises computes (pledge_promises.go).
//   - Network: without "inet" and "dns" the child cannot open IP sockets,
//     so deny-all is enforced. Unix sockets are all or nothing ("unix").
//   - Filesystem: NOT confined. unveil(2) is dropped at execve, and Go has
//     no hook between fork and exec to unveil in the child; the only route
//     would be a child that unveils itself, which an arbitrary command does
//     not do. rpath/wpath/cpath promises admit every path file permissions
//     admit. So Support.Filesystem is not enforced and Prepare refuses every
//     policy under Check (OSHardened); the adapter serves a caller that
//     opted out of filesystem confinement.
//   - Process tree: the child's session, killed as a process group (a
//     process that calls setsid or setpgid escapes).

// Prepared is a policy checked against this host.
type Prepared struct {
	promises   string
	limits     string
	trampoline string
}

func probe() Support {
	tramp := trampolineMechanism()
	via := func(what string) Mechanism {
		if !tramp.Enforced {
			return tramp
		}
		return enforcedBy(what + ", set by " + tramp.By)
	}
	none := notEnforced
	return Support{
		OS:               "openbsd",
		Filesystem:       none("unveil does not survive execve and Go has no hook between fork and exec; pledge rpath/wpath/cpath admit every path"),
		NetworkDenyAll:   via("pledge execpromises without inet and dns"),
		NetworkAllowList: none("pledge cannot filter by host and no proxy is configured"),
		UnixSockets:      none("pledge's unix promise admits every socket path"),
		Syscalls:         via("pledge execpromises"),
		Privileges:       none("no no-new-privileges switch; the child is pledged without the id promise"),
		HostFileMetadata: none("the child runs as the host's user; pledge's fattr promise admits every path"),
		ProcessTree:      enforcedBy("process group killed on Kill and on exit (a process that calls setsid or setpgid escapes)"),
		Limits: LimitSupport{
			Memory:       via("RLIMIT_DATA (all anonymous memory of each process)"),
			CPUTime:      via("RLIMIT_CPU, rounded up to whole seconds"),
			CPUCount:     none("OpenBSD has no CPU affinity"),
			MaxProcesses: via("RLIMIT_NPROC (counts every process of the user)"),
			MaxFileSize:  via("RLIMIT_FSIZE"),
			MaxOpenFiles: via("RLIMIT_NOFILE"),
		},
	}
}

// Prepare checks p against what this host enforces. Filesystem confinement
// is never enforced on OpenBSD, so Prepare always fails with an error
// wrapping ErrUnsupported that says so.
func Prepare(p Policy) (*Prepared, error) {
	if err := Probe().Check(p); err != nil {
		return nil, err
	}
	return prepare(p)
}

// prepare builds the trampoline arguments for p without checking p against
// Support; the tests use it to exercise pledge and the limits, which Check
// never lets through on its own.
func prepare(p Policy) (*Prepared, error) {
	if p.Network == NetworkAllowList {
		return nil, fmt.Errorf("%w: per-host network allow-list: pledge cannot filter by host", ErrUnsupported)
	}
	exe, err := trampolinePath()
	if err != nil {
		return nil, fmt.Errorf("%w: pledge: %v", ErrUnsupported, err)
	}
	return &Prepared{promises: execPromises(p), limits: encodeRlimits(p.Limits), trampoline: exe}, nil
}

// Close releases nothing.
func (p *Prepared) Close() error { return nil }

// Start starts cmd through the trampoline, pledged and limited, as the
// leader of a new session. It rewrites cmd.Path and cmd.Args; the command
// keeps its own argv[0].
func (p *Prepared) Start(cmd *exec.Cmd) (*Child, error) {
	if cmd.Process != nil {
		return nil, errors.New("osconfine: Start: command already started")
	}
	if cmd.Err != nil {
		return nil, cmd.Err
	}
	argv0 := cmd.Path
	if len(cmd.Args) > 0 {
		argv0 = cmd.Args[0]
	}
	argv := []string{p.trampoline, trampolineFlag, p.limits, p.promises, cmd.Path, argv0}
	if len(cmd.Args) > 1 {
		argv = append(argv, cmd.Args[1:]...)
	}
	cmd.Path, cmd.Args = argv[0], argv

	return startInNewSession(cmd)
}
