//go:build linux

package osconfine

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/go-sandbox/sandbox/internal/seccomp"
)

// seccompSupport reports whether this kernel and architecture take the
// project's filter.
func seccompSupport() Mechanism {
	if _, err := seccomp.Compile(seccomp.Rules(seccomp.Options{}), runtime.GOARCH); err != nil {
		return notEnforced("no seccomp filter for " + runtime.GOARCH + ": " + err.Error())
	}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); errors.Is(err, unix.EINVAL) {
		return notEnforced("the kernel has no seccomp support")
	}
	return enforcedBy("seccomp filter on the spawner thread (errno on refusal, native ABI only)")
}

// unixSocketSupport says how pathname unix sockets outside the roots (a
// Docker socket, an SSH agent, D-Bus) are kept out of reach.
func unixSocketSupport(abi int, seccompOK bool) Mechanism {
	switch {
	case abi >= 9:
		return enforcedBy("Landlock ABI 9 path rules on connecting to pathname unix sockets")
	case seccompOK:
		return enforcedBy("seccomp refuses socket(AF_UNIX) (socketpair works), since Landlock ABI < 9 cannot tell socket paths apart")
	}
	return notEnforced("neither Landlock ABI 9 nor seccomp")
}

// seccompOptions is the filter for this policy. Below Landlock ABI 9 a
// pathname socket cannot be scoped by path, so unix sockets are refused at
// creation unless the policy names sockets the command may use (then every
// pathname socket the command can name is reachable, and Capabilities
// says so). The namespaces the spawner clones the child into are admitted,
// since the filter governs the spawner's own clone.
func (p *Prepared) seccompOptions() seccomp.Options {
	return seccomp.Options{
		DenyNetwork:            p.policy.Network == NetworkDenyAll,
		StreamOnly:             p.policy.Network == NetworkAllowList,
		DenyUnixSocketCreation: p.support.LandlockABI < 9 && len(p.policy.UnixSockets) == 0,
		AllowedCloneNamespaces: uint32(p.cloneflags),
	}
}

// prepareSeccomp compiles the filter once per policy.
func (p *Prepared) prepareSeccomp() error {
	if !p.support.Syscalls.Enforced {
		return fmt.Errorf("%w: seccomp: %s", ErrUnsupported, p.support.Syscalls.Reason)
	}
	prog, err := seccomp.Compile(seccomp.Rules(p.seccompOptions()), runtime.GOARCH)
	if err != nil {
		return fmt.Errorf("osconfine: compiling the seccomp filter: %w", err)
	}
	p.seccomp = prog
	return nil
}

// installSeccomp loads the filter on the calling (spawner) thread.
func (p *Prepared) installSeccomp() error {
	if err := seccomp.Install(p.seccomp); err != nil {
		return fmt.Errorf("osconfine: %w", err)
	}
	return nil
}
