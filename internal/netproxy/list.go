package netproxy

import (
	"errors"
	"net/netip"
)

// List is a parsed allow-list. The zero value and a nil *List admit
// nothing. A List is immutable, so one can be shared by every connection
// of a session and swapped whole when the policy changes.
type List struct {
	patterns []Pattern
}

// ParseList parses every entry; the error joins one [*PatternError] per
// invalid entry, so a caller sees all of them at once.
func ParseList(entries []string) (*List, error) {
	l := &List{patterns: make([]Pattern, 0, len(entries))}
	var errs []error
	for _, e := range entries {
		p, err := ParsePattern(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.patterns = append(l.patterns, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// MustParseList is ParseList for lists known to be valid; it panics
// otherwise.
func MustParseList(entries ...string) *List {
	l, err := ParseList(entries)
	if err != nil {
		panic(err)
	}
	return l
}

// Patterns returns the parsed entries in the order given.
func (l *List) Patterns() []Pattern {
	if l == nil {
		return nil
	}
	return append([]Pattern(nil), l.patterns...)
}

// Allows reports whether host (a name or an IP literal, in any case, with
// or without a trailing dot, Unicode or punycode) at port is on the list,
// and which entry admitted it. Names match only name entries and IP
// literals only address entries: an allowed name is not an allowed
// address, whatever it resolves to (that is the [Guard]'s business).
func (l *List) Allows(host string, port int) (by Pattern, ok bool) {
	if l == nil {
		return Pattern{}, false
	}
	norm, err := NormalizeHost(host)
	if err != nil {
		return Pattern{}, false
	}
	if addr, err := netip.ParseAddr(norm); err == nil {
		return l.allowsAddr(addr, port, 0)
	}
	for _, p := range l.patterns {
		if !p.admitsPort(port) {
			continue
		}
		switch p.kind {
		case kindExact:
			if norm == p.name {
				return p, true
			}
		case kindWildcard:
			// The dot is part of the suffix, so "badexample.test" does not
			// end in ".example.test", and "example.test" itself is too short.
			if len(norm) > len(p.name)+1 && norm[len(norm)-len(p.name)-1] == '.' && norm[len(norm)-len(p.name):] == p.name {
				return p, true
			}
		}
	}
	return Pattern{}, false
}

// NamesAddr reports whether an address entry (IP literal or CIDR block)
// admits addr at port and lies within block: the entry names addr no more
// broadly than block does. The [Guard] asks it with the special-use block
// addr belongs to, so "10.0.0.0/8" or "10.1.2.3" admit 10.1.2.3 while
// "0.0.0.0/0" does not admit the cloud metadata address.
func (l *List) NamesAddr(addr netip.Addr, port int, block netip.Prefix) (by Pattern, ok bool) {
	if l == nil {
		return Pattern{}, false
	}
	return l.allowsAddr(addr.Unmap(), port, block.Bits())
}

func (l *List) allowsAddr(addr netip.Addr, port, minBits int) (Pattern, bool) {
	addr = addr.WithZone("").Unmap()
	for _, p := range l.patterns {
		if p.kind == kindPrefix && p.admitsPort(port) && p.prefix.Contains(addr) && p.prefix.Bits() >= minBits {
			return p, true
		}
	}
	return Pattern{}, false
}
