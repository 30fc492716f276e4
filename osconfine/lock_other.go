//go:build !unix && !windows

package osconfine

import "os"

// NoFollow is zero where the OS has no such flag.
const NoFollow = 0

// TryLock reports false: without file locks nothing can tell a dead
// owner from a live one, so nothing is ever reclaimed.
func TryLock(f *os.File) (bool, error) { return false, nil }
