package sbpl

import (
	"path"
	"strings"
)

// darwinAliases maps the top-level symlinks of macOS to the directories they
// point to. The macOS sandbox matches rules against the path the kernel
// resolves (/private/tmp/x), never against the spelling a program used
// (/tmp/x), so a rule written as /tmp/x would silently never match. The
// table is fixed by the OS layout (/tmp, /var and /etc are symlinks into
// /private on every macOS release Go supports); osconfine's darwin adapter also runs
// filepath.EvalSymlinks for links below these roots.
var darwinAliases = []struct{ from, to string }{
	{"/tmp", "/private/tmp"},
	{"/var", "/private/var"},
	{"/etc", "/private/etc"},
}

// ResolveAlias rewrites an absolute, cleaned path that starts with one
// of the macOS top-level symlinks to the path it names. Matching is by whole
// path component: /tmpfoo stays as it is. Relative paths are returned cleaned
// and unchanged; the caller rejects them.
func ResolveAlias(p string) string {
	p = path.Clean(p)
	for _, a := range darwinAliases {
		if p == a.from {
			return a.to
		}
		if rest, ok := strings.CutPrefix(p, a.from+"/"); ok {
			return a.to + "/" + rest
		}
	}
	return p
}
