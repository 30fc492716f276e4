package osconfine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/go-sandbox/sandbox/internal/sbpl"
)

// macOS confines a child with the Seatbelt sandbox through
// /usr/bin/sandbox-exec: the command runs as
//
//	/usr/bin/sandbox-exec -p PROFILE -- PATH ARGS...
//
// where PROFILE is generated from the policy, with the macOS system baseline,
// by internal/sbpl. sandbox-exec applies
// the profile to itself and execs the command, which inherits it, as does
// everything the command starts. Go has no hook between fork and exec, so
// sandbox_init cannot be called in the child directly; sandbox-exec is that
// hook. It is marked deprecated in its man page but ships with every macOS
// release Go supports; when it is missing, nothing is enforced and Prepare
// fails closed.
//
// Resource limits have no per-thread route on macOS either. When a policy
// sets any, the child first runs the host's own executable as a trampoline
// (trampoline_darwin.go): it sets the rlimits and execs sandbox-exec, so the
// limits are in force before the command's first instruction.
//
// The process tree is the child's session: the child starts with Setsid, so
// its process group id is its pid, and Kill (and the child's exit) sends
// SIGKILL to the whole group. A descendant that calls setsid or setpgid
// leaves the group and escapes that kill; macOS has no PID namespace and no
// profile operation that forbids it. The Support text says so.

const sandboxExecPath = "/usr/bin/sandbox-exec"

// prepared is the macOS part of a Prepared: the sandbox profile, generated
// once and reused by every start.
type prepared struct {
	profile string
	limits  Limits
	// trampoline is the host executable that applies the rlimits; empty
	// when the policy sets no limit.
	trampoline string
}

func probe() Support {
	s := Support{OS: "darwin"}
	none := func(why string) Mechanism { return notEnforced(why) }
	if err := checkSandboxExec(); err != nil {
		m := none(err.Error())
		s.Filesystem, s.NetworkDenyAll, s.UnixSockets = m, m, m
	} else {
		s.Filesystem = enforcedBy("sandbox-exec (Seatbelt) profile; metadata (stat) stays readable everywhere")
		s.NetworkDenyAll = enforcedBy("sandbox-exec (Seatbelt) profile")
		s.UnixSockets = enforcedBy("sandbox-exec (Seatbelt) profile, by socket path")
	}
	s.NetworkAllowList = none("sandbox profiles cannot filter by host name and no proxy is configured")
	s.Syscalls = none("macOS has no syscall filter; the profile denies Mach services, IOKit and sysctl writes by operation")
	s.Privileges = none("setuid programs still run with their owner's rights (inside the profile)")
	s.HostFileMetadata = enforcedBy("the profile allows file-write* (mode, owner, times included) only under the read-write roots")
	s.ProcessTree = enforcedBy("process group killed on Kill and on exit (a process that calls setsid or setpgid escapes)")

	tramp := trampolineMechanism()
	s.Limits = LimitSupport{
		Memory:       none("macOS does not enforce RLIMIT_AS or RLIMIT_DATA and has no cgroups"),
		CPUTime:      limitBy(tramp, "RLIMIT_CPU, rounded up to whole seconds"),
		CPUCount:     none("macOS has no CPU affinity"),
		MaxProcesses: limitBy(tramp, "RLIMIT_NPROC (counts every process of the user)"),
		MaxFileSize:  limitBy(tramp, "RLIMIT_FSIZE"),
		MaxOpenFiles: limitBy(tramp, "RLIMIT_NOFILE"),
	}
	return s
}

// limitBy names the rlimit a limit is enforced by, when the trampoline that
// sets it can run.
func limitBy(tramp Mechanism, rlimit string) Mechanism {
	if !tramp.Enforced {
		return tramp
	}
	return enforcedBy(rlimit + ", set by " + tramp.By)
}

func checkSandboxExec() error {
	fi, err := os.Stat(sandboxExecPath)
	if err != nil {
		return fmt.Errorf("%s: %w", sandboxExecPath, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", sandboxExecPath)
	}
	return nil
}

// prepare resolves the paths of p as the kernel reports them (/tmp is
// /private/tmp) and generates the sandbox profile.
func prepare(p Policy) (*Prepared, error) {
	if p.Network == NetworkAllowList {
		return nil, fmt.Errorf("%w: per-host network allow-list: sandbox profiles cannot filter by host name", ErrUnsupported)
	}
	if err := checkSandboxExec(); err != nil {
		return nil, fmt.Errorf("%w: filesystem confinement: %v", ErrUnsupported, err)
	}
	rp, err := resolvePolicy(p)
	if err != nil {
		return nil, err
	}
	profile, err := sbpl.Profile(sbplPolicy(rp))
	if err != nil {
		return nil, err
	}
	prep := &Prepared{prepared: prepared{profile: profile, limits: p.Limits}}
	if hasRlimits(p.Limits) {
		if prep.trampoline, err = trampolinePath(); err != nil {
			return nil, fmt.Errorf("%w: resource limits: %v", ErrUnsupported, err)
		}
	}
	return prep, nil
}

// resolvePolicy returns p with every path as the sandbox sees it: aliases
// of /private resolved, then symlinks. A missing optional path is dropped; a
// missing required one is an error.
func resolvePolicy(p Policy) (Policy, error) {
	out := p
	out.Paths = make([]PathRule, 0, len(p.Paths))
	for _, r := range p.Paths {
		rp, err := resolveDarwinPath(r.Path)
		if errors.Is(err, fs.ErrNotExist) && r.Optional {
			continue
		}
		if err != nil {
			return Policy{}, err
		}
		r.Path = rp
		out.Paths = append(out.Paths, r)
	}
	if p.TempDir != "" {
		t, err := resolveDarwinPath(p.TempDir)
		if err != nil {
			return Policy{}, fmt.Errorf("temp dir: %w", err)
		}
		out.TempDir = t
	}
	out.UnixSockets = make([]string, 0, len(p.UnixSockets))
	for _, s := range p.UnixSockets {
		// The socket may not exist yet (its server starts later): resolve
		// its directory, which must exist.
		dir, err := resolveDarwinPath(filepath.Dir(s))
		if err != nil {
			return Policy{}, fmt.Errorf("unix socket %s: %w", s, err)
		}
		out.UnixSockets = append(out.UnixSockets, filepath.Join(dir, filepath.Base(s)))
	}
	return out, nil
}

func resolveDarwinPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("osconfine: path %q is not absolute", p)
	}
	r, err := filepath.EvalSymlinks(sbpl.ResolveAlias(p))
	if err != nil {
		return "", fmt.Errorf("osconfine: resolving %s: %w", p, err)
	}
	// EvalSymlinks of a path below a link into /private returns the
	// /private spelling already; the table catches a link to /tmp itself.
	return sbpl.ResolveAlias(r), nil
}

// sbplPolicy is p, with resolved paths, in the profile generator's terms.
func sbplPolicy(p Policy) sbpl.Policy {
	out := sbpl.Policy{TempDir: p.TempDir, DenyNetwork: p.Network == NetworkDenyAll, UnixSockets: p.UnixSockets}
	for _, r := range p.Paths {
		var a sbpl.Access
		if r.Access&Read != 0 {
			a |= sbpl.Read
		}
		if r.Access&Write != 0 {
			a |= sbpl.Write
		}
		if r.Access&Execute != 0 {
			a |= sbpl.Execute
		}
		out.Paths = append(out.Paths, sbpl.Rule{Path: r.Path, Access: a})
	}
	return out
}

// close releases nothing: the profile is a string.
func (p *Prepared) close() error { return nil }

// start rewrites cmd.Path and cmd.Args to run through sandbox-exec (and the
// rlimit trampoline when the policy sets limits), and starts cmd in a new
// session.
func (p *Prepared) start(cmd *exec.Cmd) (*Child, error) {
	target := cmd.Path
	if !strings.Contains(target, "/") {
		// sandbox-exec would search PATH for a bare name; os/exec means
		// a file relative to cmd.Dir.
		target = "./" + target
	}
	argv := []string{sandboxExecPath, "-p", p.profile, "--", target}
	if len(cmd.Args) > 1 {
		argv = append(argv, cmd.Args[1:]...)
	}
	if p.trampoline != "" {
		argv = append([]string{p.trampoline, trampolineFlag, encodeRlimits(p.limits)}, argv...)
	}
	cmd.Path, cmd.Args = argv[0], argv

	return startInNewSession(cmd)
}
