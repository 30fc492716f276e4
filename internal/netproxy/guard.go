package netproxy

import (
	"fmt"
	"net/netip"
)

// specialBlock is an address range a name must not lead to unless the
// allow-list names it.
type specialBlock struct {
	prefix netip.Prefix
	what   string
}

// specialBlocks are the ranges the guard refuses after resolution: what
// is on the host or its local networks rather than on the internet. A
// name on the list that resolves into one of them (DNS rebinding, a
// hostile or mistaken record, /etc/hosts) would otherwise reach the
// host's own services, the cloud metadata endpoint or the LAN.
var specialBlocks = func() []specialBlock {
	mk := func(s, what string) specialBlock { return specialBlock{netip.MustParsePrefix(s), what} }
	return []specialBlock{
		mk("0.0.0.0/8", "unspecified (this network)"),
		mk("10.0.0.0/8", "private"),
		mk("100.64.0.0/10", "shared address space (CGNAT)"),
		mk("127.0.0.0/8", "loopback"),
		mk("169.254.0.0/16", "link-local (cloud metadata)"),
		mk("172.16.0.0/12", "private"),
		mk("192.0.0.0/24", "IETF protocol assignments"),
		mk("192.168.0.0/16", "private"),
		mk("198.18.0.0/15", "benchmarking"),
		mk("224.0.0.0/4", "multicast"),
		mk("240.0.0.0/4", "reserved (broadcast included)"),
		mk("::/128", "unspecified"),
		mk("::1/128", "loopback"),
		mk("fc00::/7", "unique local (private)"),
		mk("fe80::/10", "link-local"),
		mk("fec0::/10", "site-local"),
		mk("ff00::/8", "multicast"),
	}
}()

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4
// address in their last 32 bits, so they are judged by that address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Blocked reports whether addr lies in a special-use range the guard
// refuses, which range, and what it is. IPv4-mapped (::ffff:a.b.c.d) and
// NAT64 (64:ff9b::a.b.c.d) forms are judged by their IPv4 address.
func Blocked(addr netip.Addr) (block netip.Prefix, what string, blocked bool) {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, b := range specialBlocks {
		if b.prefix.Contains(addr) {
			return b.prefix, b.what, true
		}
	}
	return netip.Prefix{}, "", false
}

// GuardError is the guard's refusal of one resolved address.
type GuardError struct {
	Addr  netip.Addr
	Block netip.Prefix
	What  string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("address %s is %s (%s) and no address entry names it", e.Addr, e.What, e.Block)
}

// Guard checks a resolved address before it is dialed: a special-use
// address is refused unless an address entry of l names it (see
// [List.NamesAddr]); every other address passes. It returns nil or a
// [*GuardError].
func Guard(l *List, addr netip.Addr, port int) error {
	block, what, blocked := Blocked(addr)
	if !blocked {
		return nil
	}
	check := addr.WithZone("").Unmap()
	if nat64.Contains(check) {
		// The list must name the IPv4 address the NAT64 address reaches.
		b := check.As16()
		check = netip.AddrFrom4([4]byte(b[12:]))
	}
	if _, ok := l.NamesAddr(check, port, block); ok {
		return nil
	}
	return &GuardError{Addr: addr, Block: block, What: what}
}
