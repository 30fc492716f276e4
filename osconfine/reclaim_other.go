//go:build !linux

package osconfine

// reclaimCgroups does nothing: only Linux makes per-command cgroups.
func reclaimCgroups() {}
