//go:build unix

package osconfine

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// checkAccess walks from dir up to / and compares each directory's mode
// bits with what id needs there: search on every ancestor, read (and write)
// on dir itself.
func checkAccess(dir string, id Identity, write bool) error {
	dir = filepath.Clean(dir)
	for p := dir; ; p = filepath.Dir(p) {
		var need os.FileMode = 0o1 // search
		if p == dir {
			need |= 0o4 // read
			if write {
				need |= 0o2
			}
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return err
		}
		mode := os.FileMode(st.Mode) & 0o777
		var have os.FileMode
		switch {
		case st.Uid == id.UID:
			have = mode >> 6
		case st.Gid == id.GID:
			have = (mode >> 3) & 0o7
		default:
			have = mode & 0o7
		}
		if have&need != need {
			return fmt.Errorf("uid %d cannot %s %s (mode %04o, owner %d:%d)", id.UID, verb(p == dir, write), p, mode, st.Uid, st.Gid)
		}
		if p == "/" {
			return nil
		}
	}
}

func verb(last, write bool) string {
	switch {
	case last && write:
		return "read and write"
	case last:
		return "read"
	}
	return "traverse"
}
