package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sandbox/sandbox/osconfine"
)

// Session roots outlive a host process that dies without Terminate. Each
// root holds a lock file, locked by the process that made the root for as
// long as the session lives; the kernel drops the lock when that process
// dies, however it dies. NewLocal reclaims the roots whose lock it can
// take, and leaves alone every root another live process holds, so
// backends in several processes can share one RootDir.

// sessionLockName is the lock file in each session root.
const sessionLockName = ".sandbox-session.lock"

// orphanedDir, under RootDir, keeps the outputs and memory of reclaimed
// sessions.
const orphanedDir = "orphaned"

// sessionRecord is what a lock file says of its session.
type sessionRecord struct {
	SessionID SessionID `json:"session_id"`
	PID       int       `json:"pid"`
	Created   time.Time `json:"created"`
}

// createSessionRoot makes the session root and its lock, locked. The
// record is written only once the lock is held, so a reclaimer that finds
// a lock without a record knows the root is still being made.
func createSessionRoot(root string, id SessionID) (*os.File, error) {
	if err := os.Mkdir(root, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(root, sessionLockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.Remove(root)
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.RemoveAll(root)
		return nil, err
	}
	if ok, err := osconfine.TryLock(f); err != nil || !ok {
		if err == nil {
			err = errors.New("session root is locked by another process")
		}
		return fail(err)
	}
	rec, _ := json.Marshal(sessionRecord{SessionID: id, PID: os.Getpid(), Created: time.Now().UTC()})
	if _, err := f.Write(rec); err != nil {
		return fail(err)
	}
	return f, nil
}

// reclaimOrphans removes the session roots under rootDir whose owning
// process is gone, moving their non-empty canonical outputs and memory to
// rootDir/orphaned/<id>. Roots it cannot judge are left alone.
func reclaimOrphans(rootDir string) error {
	entries, err := os.ReadDir(rootDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == orphanedDir {
			continue
		}
		reclaimRoot(rootDir, filepath.Join(rootDir, e.Name()))
	}
	return nil
}

// reclaimRoot reclaims one root if its lock is free and its record
// complete. It holds the lock while it works, so two reclaimers never
// both act on the same root.
func reclaimRoot(rootDir, root string) {
	f, err := os.OpenFile(filepath.Join(root, sessionLockName), os.O_RDWR|osconfine.NoFollow, 0)
	if err != nil {
		return // not a session root, or not ours to judge
	}
	defer f.Close()
	if ok, err := osconfine.TryLock(f); err != nil || !ok {
		return // its owner lives
	}
	var rec sessionRecord
	if err := json.NewDecoder(f).Decode(&rec); err != nil || rec.SessionID == "" {
		return // still being made (or torn): never guess
	}
	if filepath.Base(root) != string(rec.SessionID) {
		return
	}
	keep := filepath.Join(rootDir, orphanedDir, string(rec.SessionID))
	for i := 1; exists(keep); i++ {
		keep = filepath.Join(rootDir, orphanedDir, string(rec.SessionID)+"."+strconv.Itoa(i))
	}
	moved := false
	for _, canon := range []struct{ target, name string }{{MemoryTarget, "memory"}, {OutputsTarget, "outputs"}} {
		src := filepath.Join(root, "mounts", freshMountName(canonicalIndex(canon.target), canon.target))
		if isEmptyDir(src) {
			continue
		}
		if err := os.MkdirAll(keep, 0o700); err != nil {
			return
		}
		if err := os.Rename(src, filepath.Join(keep, canon.name)); err != nil {
			return // keep the whole root rather than lose the data
		}
		moved = true
	}
	if moved {
		_ = os.WriteFile(filepath.Join(keep, "session.json"), mustJSON(rec), 0o600)
	}
	os.RemoveAll(root)
}

// canonicalIndex is the position of a canonical mount among a session's
// mounts, which decides its fresh directory's name.
func canonicalIndex(target string) int {
	if target == MemoryTarget {
		return 0
	}
	return 1
}

// freshMountName is the name, under root/mounts, of the fresh directory
// made for the n-th mount of a session, at target t.
func freshMountName(n int, t string) string {
	return fmt.Sprintf("%d-%s", n, strings.ReplaceAll(strings.Trim(t, "/"), "/", "_"))
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// isEmptyDir reports whether p is missing, not a directory, or empty.
func isEmptyDir(p string) bool {
	info, err := os.Lstat(p)
	if err != nil || !info.IsDir() {
		return true
	}
	entries, err := os.ReadDir(p)
	return err == nil && len(entries) == 0
}

func mustJSON(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}
