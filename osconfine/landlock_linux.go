//go:build linux

package osconfine

import (
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// landlockPresets maps a kernel ABI version to go-landlock's preset that
// handles every right of that version.
var landlockPresets = []landlock.Config{
	{}, landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5, landlock.V6,
	landlock.V7, landlock.V8, landlock.V9, landlock.V10, landlock.V11,
}

// landlockABI returns the Landlock ABI the running kernel offers (0: none),
// capped at the newest version go-landlock knows.
func landlockABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil || v < 0 {
		return 0
	}
	return min(v, len(landlockPresets)-1)
}

// Rights for files and directories, before they are cut down to what the
// ruleset handles. Make-char and make-block stay out: device nodes are never
// a sandboxed tool's business. Refer lets rename and link move files between
// directories of the same writable root.
const (
	fileRead  = ll.AccessFSReadFile
	fileWrite = ll.AccessFSWriteFile | ll.AccessFSTruncate
	fileExec  = ll.AccessFSExecute
	dirRead   = fileRead | ll.AccessFSReadDir
	dirWrite  = fileWrite | ll.AccessFSRemoveDir | ll.AccessFSRemoveFile | ll.AccessFSMakeDir |
		ll.AccessFSMakeReg | ll.AccessFSMakeSock | ll.AccessFSMakeFifo | ll.AccessFSMakeSym | ll.AccessFSRefer |
		ll.AccessFSResolveUnix // sockets the session's commands create in their own roots (ABI 9)
	// socketConnect is what a named socket of Policy.UnixSockets gets.
	socketConnect = ll.AccessFSResolveUnix
)

// landlockRights turns an Access into Landlock rights for a directory or a
// file, keeping only the rights the ruleset handles (the kernel rejects a
// rule that grants an unhandled right).
func landlockRights(a Access, isDir bool, handled landlock.AccessFSSet) landlock.AccessFSSet {
	var r landlock.AccessFSSet
	if a&Read != 0 {
		r |= fileRead
		if isDir {
			r |= dirRead
		}
	}
	if a&Write != 0 {
		r |= fileWrite
		if isDir {
			r |= dirWrite
		}
	}
	if a&Execute != 0 {
		r |= fileExec
	}
	return r & handled
}

// landlockConfig is the ruleset's handled rights for a policy at an ABI:
// every filesystem right the kernel knows; TCP bind and connect when the
// network is denied (handling them with no port rule refuses them all) or
// goes through the proxy (one connect rule admits its port);
// abstract unix sockets and signals scoped to the sandbox always, so a child
// cannot reach a host service on an abstract socket or signal host processes.
func landlockConfig(p Policy, abi int) landlock.Config {
	preset := landlockPresets[abi]
	cfg := landlock.Config{HandledAccessFS: preset.HandledAccessFS, Scoped: preset.Scoped}
	if p.Network == NetworkDenyAll || p.Network == NetworkAllowList {
		cfg.HandledAccessNet = preset.HandledAccessNet
	}
	return cfg
}

// newLandlockRuleset builds the ruleset for p at the given ABI and returns
// its fd (close-on-exec) and the restrict-self flags. It opens every path, so
// it runs before any thread is confined.
func newLandlockRuleset(p Policy, abi int) (fd int, flags uint32, err error) {
	if abi < 1 {
		return -1, 0, fmt.Errorf("%w: Landlock is not available on this kernel", ErrUnsupported)
	}
	cfg := landlockConfig(p, abi)
	rules := make([]landlock.Rule, 0, len(p.Paths))
	for _, pr := range p.Paths {
		info, statErr := os.Stat(pr.Path)
		if statErr != nil {
			if pr.Optional && os.IsNotExist(statErr) {
				continue
			}
			return -1, 0, fmt.Errorf("osconfine: rule for %s: %w", pr.Path, statErr)
		}
		rights := landlockRights(pr.Access, info.IsDir(), cfg.HandledAccessFS)
		if rights == 0 {
			continue
		}
		rules = append(rules, landlock.PathAccess(rights, pr.Path))
	}
	if sock := landlock.AccessFSSet(socketConnect) & cfg.HandledAccessFS; sock != 0 {
		// ABI 9 scopes connecting to pathname sockets by path: grant the
		// named ones. Below, seccomp decides (see seccompOptions).
		for _, path := range p.UnixSockets {
			rules = append(rules, landlock.PathAccess(sock, path))
		}
	}
	if p.Network == NetworkAllowList && cfg.HandledAccessNet != 0 {
		rules = append(rules, landlock.ConnectTCP(p.ProxyPort))
	}
	fd, flags, err = cfg.NewRulesetFD(rules...)
	if err != nil {
		return -1, 0, fmt.Errorf("osconfine: building Landlock ruleset: %w", err)
	}
	if fd < 0 {
		return -1, 0, fmt.Errorf("%w: Landlock ruleset is empty", ErrUnsupported)
	}
	return fd, flags, nil
}
