//go:build linux

package osconfine

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// startUnconfined starts an Unrestricted command as init of its own PID
// namespace, so that every process it starts, detached or not, dies when
// it exits or is killed, and Pdeathsig ends it with the host. A root host
// clones the namespace directly; an unprivileged one inside a user
// namespace that maps only its own uid and gid (the command sees other
// users' files as owned by the overflow id, and set-user-ID programs do
// not raise privileges). Without either, the process group is what is
// killed.
func startUnconfined(cmd *exec.Cmd) (*Child, error) {
	h := probeHost()
	attr := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	switch {
	case h.root:
		attr.Cloneflags = unix.CLONE_NEWPID
	case h.userNS:
		attr.Cloneflags = unix.CLONE_NEWUSER | unix.CLONE_NEWPID
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	default:
		return startInNewSession(cmd)
	}
	if err := startLeader(cmd, attr); err != nil {
		return nil, err
	}
	child := newChild(cmd)
	child.kill = func() error { return killTree(cmd) }
	go func() { child.finish(cmd.Wait()) }()
	return child, nil
}

func unrestrictedTreeSupport() Mechanism {
	h := probeHost()
	switch {
	case h.root:
		return enforcedBy("PID namespace (init is the command) and Pdeathsig")
	case h.userNS:
		return enforcedBy("user and PID namespace (init is the command) and Pdeathsig")
	}
	return notEnforced("neither CAP_SYS_ADMIN nor unprivileged user namespaces: only the process group is killed, and a descendant that starts a session of its own (setsid) outlives it")
}
