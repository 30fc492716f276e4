//go:build !linux

package osconfine

// ReclaimCgroups does nothing: only Linux makes per-command cgroups.
func ReclaimCgroups() {}
