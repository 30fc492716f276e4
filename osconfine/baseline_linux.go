//go:build linux

package osconfine

// The system baseline on Linux: what ordinary programs need besides the
// session's own paths. Prepare adds it to every policy.

// systemReadExec are the directories of programs and libraries: read and
// execute, never write. Missing ones are skipped.
var systemReadExec = []string{
	"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
}

// etcEntries are the parts of /etc that ordinary programs read: the dynamic
// loader's cache, name service files, TLS roots, time zone, locale and shell
// start-up files. /etc itself is not granted, so /etc/shadow, /etc/gshadow,
// /etc/ssh (host keys), /etc/sudoers and anything else stay out, also when
// the command runs as uid 0.
var etcEntries = []string{
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/host.conf",
	"/etc/hosts", "/etc/resolv.conf", "/etc/gai.conf", "/etc/protocols", "/etc/services",
	"/etc/ssl", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/pki", "/etc/crypto-policies",
	"/etc/localtime", "/etc/timezone", "/etc/locale.alias", "/etc/locale.conf", "/etc/default/locale",
	"/etc/alternatives", "/etc/os-release", "/etc/debian_version", "/etc/lsb-release",
	"/etc/mime.types", "/etc/magic", "/etc/terminfo", "/etc/inputrc",
	"/etc/bash.bashrc", "/etc/profile", "/etc/profile.d", "/etc/shells", "/etc/environment",
	"/etc/gitconfig", "/etc/mtab", "/etc/machine-id", "/etc/hostname",
}

// devices the command may use; nothing else under /dev is reachable.
var devices = []PathRule{
	{Path: "/dev/null", Access: Read | Write},
	{Path: "/dev/zero", Access: Read | Write},
	{Path: "/dev/full", Access: Read | Write, Optional: true},
	{Path: "/dev/random", Access: Read},
	{Path: "/dev/urandom", Access: Read},
}

// procAndSys: /proc is readable so that programs find their own
// /proc/self; the kernel checks ptrace access (which Landlock scopes to the
// sandbox) before it shows another process's environ, fds or memory.
// Nothing under /proc is writable. Only the CPU topology of /sys is read.
var procAndSys = []PathRule{
	{Path: "/proc", Access: Read},
	{Path: "/sys/devices/system/cpu", Access: Read, Optional: true},
}

// withBaseline returns p's path rules followed by the system baseline, in a
// new slice.
func withBaseline(paths []PathRule) []PathRule {
	out := make([]PathRule, 0, len(paths)+len(systemReadExec)+len(etcEntries)+len(devices)+len(procAndSys))
	out = append(out, paths...)
	for _, d := range systemReadExec {
		out = append(out, PathRule{Path: d, Access: Read | Execute, Optional: true})
	}
	for _, e := range etcEntries {
		out = append(out, PathRule{Path: e, Access: Read, Optional: true})
	}
	out = append(out, devices...)
	return append(out, procAndSys...)
}
