// Package osconfine confines a child process to a [Policy] with the
// mechanisms of the operating system it runs on. It is the only package that
// knows about a particular OS: the paths its programs need, its confinement
// mechanisms and their limits.
//
// The entry points are the same on every OS:
//
//   - [Probe] reports what this host can enforce and by which mechanism.
//   - [Prepare] checks a [Policy] against what the host can enforce, adds the
//     OS's system baseline to its paths, and builds whatever can be reused
//     across starts.
//   - [Prepared.Start] starts an [os/exec.Cmd] under the prepared policy;
//     [Prepared.Close] releases what Prepare built.
//   - [StartUnconfined] starts a command without confinement, but with its
//     process tree contained where the OS can.
//
// A part of a policy the host cannot enforce is never dropped quietly:
// Prepare fails with an error wrapping [ErrUnsupported] that names it.
//
// # Linux
//
// A child is started from a spawner thread confined for its policy (the rest
// of the host process never is): no_new_privs, a Landlock ruleset, a seccomp
// filter, and new PID and network namespaces where the host allows; resource
// limits are set while the child is stopped at its execve, and a cgroup
// bounds the tree's memory and processes where one is delegated. On a root
// host children run as [ChildIdentity] with no capability.
//
// A [View] gives a session a view of its own: a session init (this
// executable, re-executed; see View for how it is recognised) owns the
// session's user, mount, PID, IPC and UTS namespaces, builds a root
// filesystem for it and starts its commands, each from a spawner thread
// confined as above (rules naming guest paths) and in a PID namespace of
// its own below the init, whose first process (a holder) is killed when
// the command leaves anything behind.
//
// # macOS
//
// The command runs through /usr/bin/sandbox-exec with a Seatbelt profile
// generated from the policy (deny by default; metadata reads allowed
// everywhere). Resource limits are set by a re-exec of the host executable
// before sandbox-exec: a package init recognises its flag, sets the rlimits
// and execs sandbox-exec, so every binary that links this package carries
// that trampoline. The process tree is the child's process group.
//
// # Windows
//
// The child runs in a Job Object (created suspended, kill on job close, no
// breakaway) that carries the limits. Files and network are not confined,
// so Prepare refuses every policy; StartUnconfined uses a job without
// limits.
//
// # OpenBSD and other systems
//
// No adapter confines a child's files: on OpenBSD, unveil does not survive
// execve, and pledge alone would confine syscalls but not paths, so it is
// not used. Prepare always fails with ErrUnsupported. StartUnconfined runs
// the command as the leader of its own process group, killed on Kill and,
// where the OS can observe the exit without reaping the child (the BSDs),
// when the command exits.
package osconfine
