//go:build !linux

package osconfine

// ChildIdentity reports that children run as the host's user: only the
// Linux adapter gives them an identity of their own.
func ChildIdentity(p Policy) (Identity, bool) { return Identity{}, false }
