//go:build linux

package osconfine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The session's root filesystem, built by the session init inside its own
// user and mount namespaces. Everything is a tmpfs the init made or a bind of
// a host path; nothing of the host is visible that is not listed here or in
// the session's mounts.
//
// Every mount is made through file descriptors (fsopen/fsmount for fresh
// filesystems, open_tree/move_mount for binds) and every mount point is
// walked one component at a time without following symlinks, so a symlink
// planted in a bound host directory cannot redirect a mount elsewhere.
//
// The host's root stays attached in the namespace after pivot_root, because
// open_tree(OPEN_TREE_CLONE) only clones mounts of the caller's namespace and
// attach needs it for later binds. It is attached at /.oldroot (a dot name,
// in a read-only root) and covered there by an empty read-only tmpfs of mode
// 0, so no path leads into it. It still shows in /proc/self/mountinfo, with
// the host's mounts below it, which is unavoidable while it is attached.
//
// Two less visible places were rejected. Under /proc (covered by the
// session's procfs) no extra name would appear, but mountinfo would then
// list the host's mounts at paths that exist in the guest's procfs
// (/proc/sys as a sysfs, /proc/sys/fs/cgroup as cgroups), misleading every
// reader that maps a path to its mount by the longest prefix. Stacked on /
// (the pivot_root(".", ".") trick without the unmount) no name is needed
// either, but setns(2) into a mount namespace lands in the topmost mount of
// its root, which would be the host's tree.

// oldRootDir is where pivot_root puts the host's root, relative to the new one.
const oldRootDir = ".oldroot"

// reservedTargets are the guest directories buildRoot fills itself; a
// session mount may not be at or below them.
var reservedTargets = []string{"/proc", "/dev", "/sys", "/" + oldRootDir}

// guestRoot is the session's root filesystem once built.
type guestRoot struct {
	// hostRoot is an O_PATH fd of the old (host) root, kept mounted but
	// covered. Host sources are resolved beneath it.
	hostRoot int
	// root is an O_PATH fd of the guest's root tmpfs mount.
	root int
	// ours holds the st_dev of the tmpfs mounts built here (the root, /dev,
	// a private /tmp): the only filesystems mount points may be created in.
	ours map[uint64]bool
}

// buildRoot builds the session's root in stage (an existing empty host
// directory the init may write, e.g. <session root>/.view) and pivot_roots
// into it; afterwards the process's cwd is "/" of the new root. mounts are the
// session's mounts (guest target, host source, read-only flag) in any order;
// they include the session's own directories (e.g. a bind at /tmp,
// /workspace, /home/sandbox).
//
// It changes the whole process's mount namespace, root and cwd. An error
// before the pivot leaves the host's tree as it was; an error after it leaves
// the namespace half-built, and the init should exit.
func buildRoot(stage string, mounts []ViewMount) (_ *guestRoot, err error) {
	ms, err := sortedMounts(mounts)
	if err != nil {
		return nil, err
	}
	// Mounts made from here on must not propagate to the host's namespace,
	// and pivot_root refuses a shared root or new root.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("osconfine: making / private: %w", err)
	}

	// The session's procfs is made first, detached, so that a kernel that
	// refuses it is reported before anything else changes. The kernel
	// refuses a new procfs in a user namespace unless some procfs of the
	// namespace is fully visible (mount_too_revealing); a host /proc with
	// parts overmounted by a container runtime is not.
	proc, err := freshTree("proc", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("%w: a session /proc: the kernel refuses a new procfs in this user namespace, presumably because parts of the host's /proc are overmounted (as container runtimes do): %v", ErrUnsupported, err)
	}
	if err != nil {
		return nil, fmt.Errorf("osconfine: mounting /proc: %w", err)
	}
	defer unix.Close(proc)

	g := &guestRoot{hostRoot: -1, root: -1, ours: map[uint64]bool{}}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	// "/" here is the host's root, the mount pivot_root moves to oldRootDir:
	// this fd stays valid across the pivot.
	if g.hostRoot, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("osconfine: opening the host's root: %w", err)
	}
	// noatime: reading a path of the root must never write to it, or
	// making it read-only again (here and after each Attach) fails with
	// EBUSY while another process of the session happens to look a path
	// up (an atime update is a write).
	if g.root, err = freshTree("tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOATIME, "mode", "0755"); err != nil {
		return nil, fmt.Errorf("osconfine: making the session's root: %w", err)
	}
	if err := g.addOurs(g.root); err != nil {
		return nil, err
	}
	if err := unix.MoveMount(g.root, "", unix.AT_FDCWD, stage, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return nil, fmt.Errorf("osconfine: mounting the session's root on %s: %w", stage, err)
	}
	if err := g.populate(ms); err != nil {
		// Detaching the stage drops everything mounted below it.
		unix.Unmount(stage, unix.MNT_DETACH)
		return nil, err
	}

	if err := g.pivot(proc); err != nil {
		return nil, err
	}
	// Nothing but attach may change the root's own directories.
	if err := g.setRootReadOnly(true); err != nil {
		return nil, err
	}
	return g, nil
}

// attach binds one more host directory at its guest target in the live root
// (after buildRoot), for AttachFilesystem. It is called by the init's single
// loop.
func (g *guestRoot) attach(m ViewMount) (err error) {
	if err := checkMount(m); err != nil {
		return err
	}
	src, err := g.openHost(m.Source)
	if err != nil {
		return fmt.Errorf("osconfine: attaching %s: %w", m.Source, err)
	}
	defer unix.Close(src)
	// The mount point may have to be created in the root tmpfs, which is
	// read-only the rest of the time.
	if err := g.setRootReadOnly(false); err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, g.setRootReadOnly(true))
	}()
	return g.bind(src, m.Target, m.ReadOnly)
}

func (g *guestRoot) close() {
	for _, fd := range []int{g.hostRoot, g.root} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	g.hostRoot, g.root = -1, -1
}

// populate fills the root tmpfs before the pivot.
func (g *guestRoot) populate(ms []ViewMount) error {
	for _, d := range systemReadExec {
		if err := g.systemDir(d); err != nil {
			return err
		}
	}
	if err := g.etc(); err != nil {
		return err
	}
	if err := g.dev(); err != nil {
		return err
	}
	// Only the CPU topology of /sys is shown.
	if err := g.mkdir("/sys"); err != nil {
		return err
	}
	if err := g.bindOptional("/sys/devices/system/cpu", "/sys/devices/system/cpu", true); err != nil {
		return err
	}
	if err := g.mkdir("/proc"); err != nil {
		return err
	}
	// The host's root is put here by the pivot.
	if err := g.mkdir("/" + oldRootDir); err != nil {
		return err
	}
	if !slices.ContainsFunc(ms, func(m ViewMount) bool { return m.Target == "/tmp" }) {
		tmp, err := g.mountFresh("/tmp", "tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, "mode", "1777")
		if err != nil {
			return err
		}
		err = g.addOurs(tmp)
		unix.Close(tmp)
		if err != nil {
			return err
		}
	}
	for _, m := range ms {
		src, err := g.openHost(m.Source)
		if err != nil {
			return fmt.Errorf("osconfine: mount source %s: %w", m.Source, err)
		}
		err = g.bind(src, m.Target, m.ReadOnly)
		unix.Close(src)
		if err != nil {
			return err
		}
	}
	return nil
}

// systemDir shows the host's d: the same symlink if it is one (merged /usr
// makes /bin a symlink to usr/bin), else a read-only bind.
func (g *guestRoot) systemDir(d string) error {
	var st unix.Stat_t
	err := unix.Fstatat(g.hostRoot, strings.TrimPrefix(d, "/"), &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("osconfine: %s: %w", d, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return g.bindOptional(d, d, true)
	}
	dest, err := readlinkat(g.hostRoot, strings.TrimPrefix(d, "/"))
	if err != nil {
		return fmt.Errorf("osconfine: %s: %w", d, err)
	}
	return g.symlink(dest, d)
}

// etc makes /etc a directory of only the etcEntries, each a read-only bind of
// what the host's entry resolves to.
func (g *guestRoot) etc() error {
	if err := g.mkdir("/etc"); err != nil {
		return err
	}
	for _, e := range etcEntries {
		if e == "/etc/mtab" {
			continue
		}
		if err := g.bindOptional(e, e, true); err != nil {
			return err
		}
	}
	return g.symlink("/proc/self/mounts", "/etc/mtab")
}

// dev makes /dev a tmpfs of the host's harmless devices (a user namespace
// cannot mknod, so each is a bind), a devpts of the session's own, and a
// /dev/shm.
func (g *guestRoot) dev() error {
	dev, err := g.mountFresh("/dev", "tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC|unix.MOUNT_ATTR_NOATIME, "mode", "0755")
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	if err := g.addOurs(dev); err != nil {
		return err
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := g.bindOptional("/dev/"+d, "/dev/"+d, false); err != nil {
			return err
		}
	}
	// newinstance: the session's terminals are its own, not the host's.
	pts, err := g.mountFresh("/dev/pts", "devpts", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC,
		"newinstance", "", "ptmxmode", "0666", "mode", "0620")
	if err != nil {
		return err
	}
	unix.Close(pts)
	shm, err := g.mountFresh("/dev/shm", "tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, "mode", "1777")
	if err != nil {
		return err
	}
	unix.Close(shm)
	links := [][2]string{
		{"pts/ptmx", "/dev/ptmx"}, {"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"}, {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
	}
	for _, l := range links {
		if err := g.symlink(l[0], l[1]); err != nil {
			return err
		}
	}
	// Nothing else belongs in /dev; commands get /dev/shm and /tmp to write.
	return setReadOnly(dev, false, true)
}

// pivot makes the root tmpfs the process's root, leaves the host's root
// attached at /oldRootDir, covers it with an empty read-only tmpfs, and
// mounts the session's procfs.
func (g *guestRoot) pivot(proc int) error {
	// pivot_root(".", put_old) with the cwd on the new root avoids
	// resolving the stage's path again.
	if err := unix.Fchdir(g.root); err != nil {
		return fmt.Errorf("osconfine: entering the session's root: %w", err)
	}
	if err := unix.PivotRoot(".", oldRootDir); err != nil {
		return fmt.Errorf("osconfine: pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("osconfine: entering the session's root: %w", err)
	}
	cover, err := freshTree("tmpfs", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC,
		"mode", "0", "size", "4k", "nr_inodes", "1")
	if err != nil {
		return fmt.Errorf("osconfine: covering the host's root: %w", err)
	}
	defer unix.Close(cover)
	if err := unix.MoveMount(cover, "", unix.AT_FDCWD, "/"+oldRootDir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("osconfine: covering the host's root: %w", err)
	}
	if err := unix.MoveMount(proc, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("osconfine: mounting /proc: %w", err)
	}
	return nil
}

// bindOptional binds the host's source at target, if source exists.
func (g *guestRoot) bindOptional(source, target string, readOnly bool) error {
	src, err := g.openHost(source)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("osconfine: %s: %w", source, err)
	}
	defer unix.Close(src)
	return g.bind(src, target, readOnly)
}

// bind clones the mount tree at src (an O_PATH fd, file or directory) and
// attaches it at target, read-only if asked.
func (g *guestRoot) bind(src int, target string, readOnly bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("osconfine: binding %s: %w", target, err)
	}
	dst, err := g.mountPoint(target, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	// AT_RECURSIVE: the host's mounts below src come along, and cloning a
	// mount whose children the kernel locked (any copy made with a user
	// namespace) fails without it.
	tree, err := unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("osconfine: cloning the mount for %s: %w", target, err)
	}
	defer unix.Close(tree)
	if readOnly {
		if err := setReadOnly(tree, true, true); err != nil {
			return fmt.Errorf("osconfine: making %s read-only: %w", target, err)
		}
	}
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("osconfine: mounting %s: %w", target, err)
	}
	return nil
}

// setReadOnly sets or clears MOUNT_ATTR_RDONLY on the mount at fd (and its
// children if recursive). Unlike a MS_REMOUNT|MS_BIND|MS_RDONLY remount, it
// leaves the other flags alone, so the ones the kernel locked on a copy of a
// host mount (nosuid, nodev, noexec, atime) need not be known.
func setReadOnly(fd int, recursive, on bool) error {
	attr := unix.MountAttr{}
	if on {
		attr.Attr_set = unix.MOUNT_ATTR_RDONLY
	} else {
		attr.Attr_clr = unix.MOUNT_ATTR_RDONLY
	}
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(fd, "", flags, &attr)
}

func (g *guestRoot) setRootReadOnly(on bool) error {
	var err error
	for range 50 {
		// EBUSY: a write to the root is in flight. Nothing of the session
		// writes there (noatime, Landlock grants no write on it), so one
		// would be brief; try again for a little while.
		if err = setReadOnly(g.root, false, on); !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("osconfine: setting the session's root read-only=%v: %w", on, err)
	}
	return nil
}

// mountFresh mounts a new filesystem at target and returns an fd of its root.
func (g *guestRoot) mountFresh(target, fstype string, attrs int, opts ...string) (int, error) {
	dst, err := g.mountPoint(target, true)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dst)
	tree, err := freshTree(fstype, attrs, opts...)
	if err != nil {
		return -1, fmt.Errorf("osconfine: making the %s at %s: %w", fstype, target, err)
	}
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("osconfine: mounting the %s at %s: %w", fstype, target, err)
	}
	return tree, nil
}

// freshTree makes a new, detached filesystem of fstype with mount attributes
// attrs (MOUNT_ATTR_*) and options given as key, value pairs (an empty value
// sets a flag option), and returns an fd of its root.
func freshTree(fstype string, attrs int, opts ...string) (int, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fsfd)
	for i := 0; i+1 < len(opts); i += 2 {
		if opts[i+1] == "" {
			err = unix.FsconfigSetFlag(fsfd, opts[i])
		} else {
			err = unix.FsconfigSetString(fsfd, opts[i], opts[i+1])
		}
		if err != nil {
			return -1, fmt.Errorf("option %s: %w", opts[i], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, err
	}
	return unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
}

// openHost opens the host's path p as an O_PATH fd, resolving symlinks as
// the host would: beneath the host's root, also after the pivot.
func (g *guestRoot) openHost(p string) (int, error) {
	return openat2Retry(g.hostRoot, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// openat2Retry is openat2, tried again on EAGAIN: with RESOLVE_IN_ROOT or
// RESOLVE_BENEATH the kernel gives up on a lookup that raced any mount or
// rename on the machine (other sessions' inits mount all the time), and
// asks the caller to retry.
func openat2Retry(dir int, p string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dir, p, how)
		if err != unix.EAGAIN || i == 1000 {
			return fd, err
		}
	}
}

// addOurs records the filesystem of fd as one built here.
func (g *guestRoot) addOurs(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("osconfine: %w", err)
	}
	g.ours[st.Dev] = true
	return nil
}

// mountPoint returns an O_PATH fd of target (a clean absolute guest path),
// creating what is missing of it (directories, and a file at the end unless
// dir) only on the tmpfs mounts built here: a mount point missing inside a
// bound host directory is an error wrapping fs.ErrNotExist, never a new entry
// in the host's tree. No component may be a symlink.
func (g *guestRoot) mountPoint(target string, dir bool) (int, error) {
	cur, err := unix.Openat(g.root, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("osconfine: %w", err)
	}
	names := strings.Split(strings.TrimPrefix(target, "/"), "/")
	if target == "/" {
		names = nil
	}
	for i, name := range names {
		last := i == len(names)-1
		next, err := openComponent(cur, name)
		if errors.Is(err, unix.ENOENT) {
			if err = g.create(cur, name, dir || !last); err == nil {
				next, err = openComponent(cur, name)
			}
		}
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("osconfine: mount point %s: %w", "/"+path.Join(names[:i+1]...), err)
		}
		cur = next
	}
	return cur, nil
}

// openComponent opens name in the directory dir, crossing into a mount on it
// but refusing a symlink (ELOOP).
func openComponent(dir int, name string) (int, error) {
	return openat2Retry(dir, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
}

// errHostMountPoint refuses to create a mount point in a host directory.
var errHostMountPoint = fmt.Errorf("%w: the mount point would have to be created in a bound host directory", fs.ErrNotExist)

// create makes name in dir (a directory, or an empty file for a file bind),
// if dir is on a filesystem built here.
func (g *guestRoot) create(dir int, name string, isDir bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		return err
	}
	if !g.ours[st.Dev] {
		return errHostMountPoint
	}
	if !isDir {
		fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	}
	if err := unix.Mkdirat(dir, name, 0o755); err != nil {
		return err
	}
	// Whatever the init's umask, every guest directory is 0755.
	return unix.Fchmodat(dir, name, 0o755, 0)
}

func (g *guestRoot) mkdir(target string) error {
	fd, err := g.mountPoint(target, true)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// symlink makes the symlink link -> dest in the guest root.
func (g *guestRoot) symlink(dest, link string) error {
	parent, err := g.mountPoint(path.Dir(link), true)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	if err := unix.Symlinkat(dest, parent, path.Base(link)); err != nil {
		return fmt.Errorf("osconfine: symlink %s: %w", link, err)
	}
	return nil
}

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// sortedMounts checks the session's mounts and sorts them by target, so that
// a mount point's parents are mounted before it.
func sortedMounts(mounts []ViewMount) ([]ViewMount, error) {
	ms := slices.Clone(mounts)
	for _, m := range ms {
		if err := checkMount(m); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(ms, func(a, b ViewMount) int { return strings.Compare(a.Target, b.Target) })
	for i := 1; i < len(ms); i++ {
		if ms[i].Target == ms[i-1].Target {
			return nil, fmt.Errorf("osconfine: two mounts at %s", ms[i].Target)
		}
	}
	return ms, nil
}

// checkMount refuses a mount with a relative or unclean path, or one at / or
// in a directory buildRoot fills itself.
func checkMount(m ViewMount) error {
	for _, p := range []string{m.Source, m.Target} {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return fmt.Errorf("osconfine: mount %s -> %s: paths must be absolute and clean", m.Source, m.Target)
		}
	}
	if m.Target == "/" {
		return fmt.Errorf("osconfine: mount %s: cannot replace the root", m.Source)
	}
	for _, r := range reservedTargets {
		if m.Target == r || strings.HasPrefix(m.Target, r+"/") {
			return fmt.Errorf("osconfine: mount %s -> %s: %s is the session's own", m.Source, m.Target, r)
		}
	}
	return nil
}
