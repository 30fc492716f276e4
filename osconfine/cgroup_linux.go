//go:build linux

package osconfine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Tree-wide limits through cgroups.
//
// Rlimits bound each process; a fork bomb under RLIMIT_AS of 1 GiB can still
// take 100 GiB in total, and RLIMIT_NPROC does not apply to uid 0. Where the
// host lets this process create cgroups (cgroup v1 pids and memory
// hierarchies writable by it, or a cgroup v2 subtree with those controllers
// delegated to it), each command gets a cgroup of its own with pids.max and
// the memory limit. The child joins it while stopped at its execve, before
// its first instruction, through a cgroup.procs fd opened before the
// spawner thread was confined (Landlock checks at open, not at write), and
// every process it starts is born inside it.

// cgroupHost says where per-command cgroups can be created.
type cgroupHost struct {
	pidsParent string // directory to create pids cgroups in; "" if none
	memParent  string // directory to create memory cgroups in; "" if none
	v2         bool   // the directories are in the unified hierarchy
}

// findCgroups locates this process's cgroups and keeps the ones it can
// create children in (tried for real: a directory is made and removed).
func findCgroups() cgroupHost {
	var h cgroupHost
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return h
	}
	defer f.Close()
	var unified string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			dir := filepath.Join("/sys/fs/cgroup", parts[1], parts[2])
			switch ctrl {
			case "pids":
				if canCreateChild(dir, "pids.max") {
					h.pidsParent = dir
				}
			case "memory":
				if canCreateChild(dir, "memory.limit_in_bytes") {
					h.memParent = dir
				}
			}
		}
	}
	if h.pidsParent != "" || h.memParent != "" || unified == "" {
		return h
	}
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return h
	}
	dir := filepath.Join("/sys/fs/cgroup", unified)
	ctrls, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return h
	}
	fields := strings.Fields(string(ctrls))
	has := func(c string) bool {
		for _, f := range fields {
			if f == c {
				return true
			}
		}
		return false
	}
	if has("pids") && canCreateChild(dir, "pids.max") {
		h.pidsParent, h.v2 = dir, true
	}
	if has("memory") && canCreateChild(dir, "memory.max") {
		h.memParent, h.v2 = dir, true
	}
	return h
}

// canCreateChild makes and removes a child cgroup of dir and checks that
// it has the control file.
func canCreateChild(dir, file string) bool {
	probe := filepath.Join(dir, fmt.Sprintf("sandbox-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return false
	}
	defer os.Remove(probe)
	_, err := os.Stat(filepath.Join(probe, file))
	return err == nil
}

var cgroupSeq atomic.Uint64

// cgroupPrefix starts the name of every per-command cgroup, followed by
// the creator's owner tag and a sequence number (see ReclaimCgroups).
const cgroupPrefix = "sandbox-"

// execCgroup is the cgroup (one per hierarchy) of one command.
type execCgroup struct {
	dirs  []string
	procs []*os.File // cgroup.procs of each dir, opened before confinement
	oomAt string     // file that counts OOM kills ("" without a memory cgroup)
	// boundsMemory and boundsPids say which limits the cgroup holds for
	// the whole tree, so the per-process rlimit is not set on top.
	boundsMemory, boundsPids bool
}

// newExecCgroup creates the command's cgroups with its limits. It runs
// before the spawner thread is confined.
func newExecCgroup(h cgroupHost, l Limits) (_ *execCgroup, err error) {
	c := &execCgroup{}
	defer func() {
		if err != nil {
			c.remove()
		}
	}()
	name := fmt.Sprintf("%s%s-%d", cgroupPrefix, cgroupOwnerTag(), cgroupSeq.Add(1))
	mk := func(parent string, files map[string]string) error {
		dir := filepath.Join(parent, name)
		for _, have := range c.dirs {
			if have == dir { // v2: one directory holds both controllers
				return writeControls(dir, files)
			}
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("osconfine: creating cgroup: %w", err)
		}
		c.dirs = append(c.dirs, dir)
		if err := writeControls(dir, files); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("osconfine: opening cgroup.procs: %w", err)
		}
		c.procs = append(c.procs, f)
		return nil
	}
	if l.MaxProcesses > 0 && h.pidsParent != "" {
		if err := mk(h.pidsParent, map[string]string{"pids.max": strconv.FormatUint(l.MaxProcesses, 10)}); err != nil {
			return nil, err
		}
		c.boundsPids = true
	}
	if l.MemoryBytes > 0 && h.memParent != "" {
		limit := strconv.FormatUint(l.MemoryBytes, 10)
		files := map[string]string{"memory.limit_in_bytes": limit}
		c.oomAt = filepath.Join(h.memParent, name, "memory.oom_control")
		if h.v2 {
			files = map[string]string{"memory.max": limit, "memory.swap.max": "0"}
			c.oomAt = filepath.Join(h.memParent, name, "memory.events")
		}
		if err := mk(h.memParent, files); err != nil {
			return nil, err
		}
		c.boundsMemory = true
	}
	return c, nil
}

// writeControls writes each control file; memory.swap.max is optional
// (absent without swap accounting).
func writeControls(dir string, files map[string]string) error {
	for name, v := range files {
		err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0)
		if err != nil && !(name == "memory.swap.max" && errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("osconfine: setting %s: %w", name, err)
		}
	}
	return nil
}

// enter moves pid into every cgroup. It runs on the confined spawner
// thread, writing to descriptors opened before confinement.
func (c *execCgroup) enter(pid int) error {
	b := []byte(strconv.Itoa(pid))
	for _, f := range c.procs {
		if _, err := f.Write(b); err != nil {
			return fmt.Errorf("osconfine: moving the child into its cgroup: %w", err)
		}
	}
	return nil
}

// closeFiles releases the cgroup.procs descriptors.
func (c *execCgroup) closeFiles() {
	for _, f := range c.procs {
		f.Close()
	}
	c.procs = nil
}

// oomKilled reports whether the kernel killed a process of the command on
// the memory limit.
func (c *execCgroup) oomKilled() bool {
	if c.oomAt == "" {
		return false
	}
	b, err := os.ReadFile(c.oomAt)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(line, "oom_kill "); ok {
			v, _ := strconv.Atoi(strings.TrimSpace(n))
			return v > 0
		}
	}
	return false
}

// remove deletes the cgroups once their processes are gone. Processes of a
// dead PID namespace are reaped asynchronously, so it retries briefly.
func (c *execCgroup) remove() {
	c.closeFiles()
	for _, dir := range c.dirs {
		for i := 0; i < 100; i++ {
			if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.dirs = nil
}
