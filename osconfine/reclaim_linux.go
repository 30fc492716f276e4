//go:build linux

package osconfine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Per-command cgroups are removed when their command ends; a host process
// killed meanwhile leaves them behind. Their names carry the creating
// process's pid and start time, which together name one process for the
// life of the system (a pid alone is reused). ReclaimCgroups removes the
// ones whose creator is gone.

// processStartTime is field 22 of /proc/<pid>/stat: when the process
// started, in clock ticks since boot.
func processStartTime(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", false
	}
	fields := strings.Fields(string(b[i+1:]))
	const startTimeField = 22 - 3 // fields 3.. follow the parenthesis
	if len(fields) <= startTimeField {
		return "", false
	}
	return fields[startTimeField], true
}

var (
	selfStartOnce sync.Once
	selfStart     string
)

// cgroupOwnerTag names this process in its cgroups: "<pid>.<start time>".
func cgroupOwnerTag() string {
	selfStartOnce.Do(func() {
		st, _ := processStartTime(os.Getpid())
		selfStart = strconv.Itoa(os.Getpid()) + "." + st
	})
	return selfStart
}

// ownerAlive reports whether the process a tag names still runs.
func ownerAlive(tag string) bool {
	pidStr, start, ok := strings.Cut(tag, ".")
	if !ok {
		return true // not our format: never touch it
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return true
	}
	st, ok := processStartTime(pid)
	return ok && st == start
}

// reclaimCgroups removes the per-command cgroups of processes that are
// gone, after killing what is left in them (nothing, normally: commands
// die with their PID namespace). Cgroups of live processes, and names it
// does not know, are left alone.
func reclaimCgroups() {
	h := probeHost().cgroups
	for _, parent := range []string{h.pidsParent, h.memParent} {
		if parent == "" {
			continue
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			tag, ok := strings.CutPrefix(e.Name(), cgroupPrefix)
			if !ok || !e.IsDir() {
				continue
			}
			tag, _, _ = strings.Cut(tag, "-")
			if ownerAlive(tag) {
				continue
			}
			dir := filepath.Join(parent, e.Name())
			killCgroupProcs(dir)
			(&execCgroup{dirs: []string{dir}}).remove()
		}
	}
}

// killCgroupProcs SIGKILLs every process listed in dir's cgroup.procs.
func killCgroupProcs(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}
