package osconfine

import "os"

// This file declares the host-side helpers the local backend uses around
// confinement (locks that say whether a session's owner lives, reclaiming
// what dead processes left); each OS supplies the unexported hooks.

// NoFollow is the open flag that refuses a symbolic link as the last path
// element (0 where the OS has none).
const NoFollow = noFollow

// TryLock takes an exclusive lock on f without waiting and reports whether
// it got it; false means another open file holds it. The OS drops the
// lock when every descriptor of that open file is closed, also when its
// process dies, so a lock held says "its owner lives" with no pid to
// guess from. Where the OS has no such locks it reports false, so nothing
// is ever taken for dead.
func TryLock(f *os.File) (bool, error) { return tryLock(f) }

// ReclaimCgroups removes the per-command cgroups (Linux) whose creating
// process is gone, killing what is left in them first. Cgroups of live
// processes, and names it did not make, are left alone. Elsewhere it does
// nothing.
func ReclaimCgroups() { reclaimCgroups() }
