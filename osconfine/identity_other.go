//go:build !linux

package osconfine

// childIdentity reports that children run as the host's user.
func childIdentity(p Policy) (Identity, bool) { return Identity{}, false }
