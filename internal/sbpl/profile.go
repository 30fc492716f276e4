// Package sbpl turns a confinement policy into a macOS sandbox profile
// (SBPL, the Scheme dialect /usr/bin/sandbox-exec reads), with the system
// baseline every macOS program needs. It is pure string work so that it is
// tested on every OS; osconfine's darwin adapter resolves the paths first
// (ResolveAlias, filepath.EvalSymlinks) and hands the result here.
package sbpl

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// Access is a set of rights a Rule grants below its path.
type Access uint8

const (
	Read    Access = 1 << iota // reading files and listing directories
	Write                      // creating, writing, renaming and removing
	Execute                    // executing files and mapping them executable
)

// Rule grants Access to Path and everything below it.
type Rule struct {
	Path   string
	Access Access
}

// Policy is what a profile allows besides the system baseline. Every path
// must be absolute and resolved as the kernel reports it.
type Policy struct {
	Paths []Rule
	// TempDir, when set, is granted read and write.
	TempDir string
	// DenyNetwork denies every socket but the pathname unix sockets in
	// UnixSockets; otherwise the network is unrestricted. SBPL cannot
	// filter by host name, so there is no allow-list.
	DenyNetwork bool
	UnixSockets []string
}

// Quote returns s as an SBPL string literal, quotes included.
//
// The SBPL reader is TinyScheme's: inside "...", a backslash starts an escape
// and a double quote ends the string; every other byte is taken as is,
// control characters included. Only `\` and `"` are escaped, each with a
// backslash, because those two escapes mean the same in every TinyScheme
// version, while the \x and octal forms differ between versions.
//
// Strings that cannot travel are refused rather than mangled: NUL (the
// profile is one argv string to sandbox-exec, and C strings end at NUL) and
// invalid UTF-8 (macOS file systems store UTF-8 names, and some TinyScheme
// builds read bytes as signed chars, where 0xFF reads as end of input).
func Quote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("sbpl: string contains a NUL byte")
	}
	if !utf8.ValidString(s) {
		return "", errors.New("sbpl: string is not valid UTF-8")
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String(), nil
}

// systemRead lists the directories every program needs to read on
// macOS: executables, libraries, frameworks, the dyld shared cache (below
// /System, in /System/Volumes/Preboot/Cryptexes on macOS 13 and later),
// Homebrew, the developer tools xcrun redirects to, time zones.
var systemRead = []string{
	"/Applications/Xcode.app",
	"/Library",
	"/System",
	"/bin",
	"/opt/homebrew",
	"/private/var/db/dyld",
	"/private/var/db/timezone",
	"/sbin",
	"/usr",
}

// systemExec lists where system programs may be executed from (and
// mapped executable: dylibs). It is systemRead without the data-only
// directories.
var systemExec = []string{
	"/Applications/Xcode.app",
	"/Library/Apple",
	"/Library/Developer",
	"/System",
	"/bin",
	"/opt/homebrew",
	"/private/var/db/dyld",
	"/sbin",
	"/usr",
}

// systemFiles are single files programs read: xcode-select's choice of
// developer directory.
var systemFiles = []string{
	"/private/var/db/xcode_select_link",
}

// etcSecrets are the files below /private/etc that hold secrets; the
// rest of /private/etc is readable. They are only readable by root, but a
// host running as root must not hand them to its children either.
var etcSecrets = []string{
	"/private/etc/master.passwd",
	"/private/etc/sudoers",
	"/private/etc/sudoers.d",
	"/private/etc/ssh/ssh_host_dsa_key",
	"/private/etc/ssh/ssh_host_ecdsa_key",
	"/private/etc/ssh/ssh_host_ed25519_key",
	"/private/etc/ssh/ssh_host_rsa_key",
	"/private/etc/ssh/ssh_host_key",
	"/private/etc/kcpassword",
}

// devRW are the device files a program may open for reading and
// writing. Raw disks (/dev/disk*, /dev/rdisk*) stay out: a root host would
// otherwise hand the whole disk to its child.
var devRW = []string{
	"/dev/dtracehelper",
	"/dev/null",
	"/dev/tty",
	"/dev/zero",
}

// devRead are the device files a program may only read.
var devRead = []string{
	"/dev/random",
	"/dev/urandom",
}

// baseMachServices are the Mach services every profile may look up:
// user and group lookups (getpwuid) go through opendirectoryd.
var baseMachServices = []string{
	"com.apple.system.opendirectoryd.libinfo",
	"com.apple.system.opendirectoryd.membership",
}

// networkMachServices are the Mach services name resolution and TLS
// trust evaluation need; looked up only when the network is allowed.
var networkMachServices = []string{
	"com.apple.SecurityServer",
	"com.apple.SystemConfiguration.DNSConfiguration",
	"com.apple.SystemConfiguration.configd",
	"com.apple.dnssd.service",
	"com.apple.networkd",
	"com.apple.ocspd",
	"com.apple.trustd",
	"com.apple.trustd.agent",
}

// Profile returns the sandbox profile for p. The paths of p must be
// absolute and already resolved (no /tmp, /var or /etc spelling, no
// symlinks): the kernel matches rules against resolved paths only.
//
// The profile denies by default and then allows, in order: process
// creation and signals inside the sandbox, metadata reads everywhere (stat
// and realpath on parent directories; Landlock on Linux does not confine
// them either), the system roots, the device files programs use, the
// policy's own paths by access, and the network by mode. /private/tmp and
// /private/var/folders get no rule: the child reaches a temp dir only
// through p.TempDir, which the policy lists as a read-write path.
func Profile(p Policy) (string, error) {
	var w writer
	w.line("(version 1)")
	w.line("(deny default)")
	w.line("")
	w.line("; processes: the child may fork and exec (exec is filtered by path below)")
	w.line("; and signal or inspect only processes of its own sandbox.")
	w.line("(allow process-fork)")
	w.line("(allow signal (target same-sandbox))")
	w.line("(allow process-info* (target same-sandbox))")
	w.line("(allow sysctl-read)")
	w.line("(allow ipc-posix-sem)")
	w.rule("allow mach-lookup", "global-name", baseMachServices)
	w.line("")
	w.line("; metadata (stat, realpath, getcwd) everywhere, as on Linux.")
	w.line("(allow file-read-metadata)")
	w.line("")
	w.line("; system roots.")
	w.rule("allow file-read*", "subpath", systemRead)
	w.rule("allow file-read*", "literal", systemFiles)
	w.etc()
	w.rule("allow process-exec file-map-executable", "subpath", systemExec)
	w.line("")
	w.line("; device files; /dev/fd/N names the child's own descriptors.")
	w.rule("allow file-read* file-write* file-ioctl", "literal", devRW)
	w.rule("allow file-read*", "literal", devRead)
	w.rule("allow file-read* file-write*", "subpath", []string{"/dev/fd"})

	var read, write, exec []string
	seen := map[string]Access{}
	add := func(pth string, a Access) {
		if old, ok := seen[pth]; ok {
			a &^= old // only what this path did not have yet
			seen[pth] = old | a
		} else {
			seen[pth] = a
		}
		if a&Read != 0 {
			read = append(read, pth)
		}
		if a&Write != 0 {
			write = append(write, pth)
		}
		if a&Execute != 0 {
			exec = append(exec, pth)
		}
	}
	for _, r := range p.Paths {
		if err := checkProfilePath(r.Path); err != nil {
			return "", err
		}
		add(path.Clean(r.Path), r.Access)
	}
	if p.TempDir != "" {
		if err := checkProfilePath(p.TempDir); err != nil {
			return "", err
		}
		add(path.Clean(p.TempDir), Read|Write)
	}
	w.line("")
	w.line("; the policy's paths.")
	w.rule("allow file-read*", "subpath", read)
	w.rule("allow file-write*", "subpath", write)
	w.rule("allow process-exec file-map-executable", "subpath", exec)

	w.line("")
	if !p.DenyNetwork {
		w.line("; network: unrestricted, with the services name resolution and TLS need.")
		w.line("(allow network*)")
		w.line("(allow system-socket)")
		w.rule("allow mach-lookup", "global-name", networkMachServices)
		w.rule("allow file-read*", "literal", []string{"/private/var/run/resolv.conf"})
	} else {
		w.line("; network: denied (no network rule), unix sockets only as listed.")
		socks := make([]string, 0, len(p.UnixSockets))
		for _, s := range p.UnixSockets {
			if err := checkProfilePath(s); err != nil {
				return "", err
			}
			socks = append(socks, path.Clean(s))
		}
		w.rule("allow network-outbound", "literal", socks)
	}
	if w.err != nil {
		return "", w.err
	}
	return w.b.String(), nil
}

// checkProfilePath refuses paths a rule cannot name soundly: relative paths
// match nothing the kernel reports, and the /tmp, /var, /etc spellings are
// never what the kernel reports either, so a rule with them would silently
// grant nothing.
func checkProfilePath(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("sbpl: path %q is not absolute", p)
	}
	if r := ResolveAlias(p); r != path.Clean(p) {
		return fmt.Errorf("sbpl: path %q is not resolved (the kernel reports it as %q)", p, r)
	}
	return nil
}

type writer struct {
	b   strings.Builder
	err error
}

func (w *writer) line(s string) {
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

// rule writes (op (filter "v1") (filter "v2") ...), or nothing for no values:
// an allow rule without a filter would allow the operation everywhere.
func (w *writer) rule(op, filter string, values []string) {
	if len(values) == 0 {
		return
	}
	w.b.WriteString("(" + op)
	for _, v := range values {
		q, err := Quote(v)
		if err != nil {
			if w.err == nil {
				w.err = fmt.Errorf("%w (in %q rule)", err, op)
			}
			return
		}
		w.b.WriteString("\n  (" + filter + " " + q + ")")
	}
	w.b.WriteString(")\n")
}

// etc writes the /private/etc read rule with the secrets carved out. It uses
// require-not inside require-all instead of a later deny rule, so that it
// does not depend on how rules that match the same path are ordered.
func (w *writer) etc() {
	w.b.WriteString("(allow file-read*\n  (require-all\n    (subpath \"/private/etc\")")
	for _, s := range etcSecrets {
		q, _ := Quote(s) // constants, always valid
		w.b.WriteString("\n    (require-not (subpath " + q + "))")
	}
	w.b.WriteString("))\n")
}
