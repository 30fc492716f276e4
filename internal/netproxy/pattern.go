package netproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// ErrInvalidPattern is the sentinel every pattern error wraps. The root
// package wraps it again as its ErrNetworkPolicy.
var ErrInvalidPattern = errors.New("invalid host pattern")

// PatternError says which allow-list entry is invalid and why.
// errors.Is(err, ErrInvalidPattern) is true for it.
type PatternError struct {
	Pattern string
	Reason  string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("%s %q: %s", ErrInvalidPattern, e.Pattern, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidPattern) true.
func (e *PatternError) Is(target error) bool { return target == ErrInvalidPattern }

// defaultPorts are the ports an entry without ":port" admits. An entry
// names a web service, not every service of that host: with "any port" as
// the default, an entry such as "*.amazonaws.com" would turn the proxy into
// a TCP relay to every port of every machine under that name. Write
// "host:*" for any port.
var defaultPorts = [...]int{80, 443}

type patternKind uint8

const (
	kindExact    patternKind = iota + 1 // host == name
	kindWildcard                        // host ends in "."+name
	kindPrefix                          // IP literal or CIDR block
)

// anyPort is the port field of a pattern written "host:*".
const anyPort = -1

// Pattern is one parsed allow-list entry.
type Pattern struct {
	kind   patternKind
	name   string       // ASCII lower-case, no trailing dot; for wildcards the suffix without "*."
	prefix netip.Prefix // kindPrefix only; an IP literal is a full-length prefix
	port   int          // 0: defaultPorts; anyPort; else the one port
	raw    string
}

// String returns the entry as written.
func (p Pattern) String() string { return p.raw }

// IsAddress reports whether the entry names addresses (an IP literal or a
// CIDR block) rather than host names. Only such entries can admit a
// guarded address (see [Guard]).
func (p Pattern) IsAddress() bool { return p.kind == kindPrefix }

// Prefix returns the block an address entry names (an IP literal is a
// full-length prefix), and false for name entries.
func (p Pattern) Prefix() (netip.Prefix, bool) { return p.prefix, p.kind == kindPrefix }

// admitsPort reports whether the entry's port part admits port.
func (p Pattern) admitsPort(port int) bool {
	switch p.port {
	case anyPort:
		return true
	case 0:
		for _, d := range defaultPorts {
			if port == d {
				return true
			}
		}
		return false
	default:
		return port == p.port
	}
}

// ParsePattern parses one allow-list entry:
//
//	example.com           the host itself, ports 80 and 443
//	*.example.com         any subdomain (not example.com, not badexample.com)
//	example.com:8443      one port; "example.com:*" any port
//	203.0.113.7           an IPv4 literal; "203.0.113.7:22" with a port
//	2001:db8::1           an IPv6 literal; "[2001:db8::1]:22" with a port
//	10.0.0.0/8            a CIDR block; "10.0.0.0/8:5432", "[fd00::/8]:*"
//
// Names are compared case-insensitively, without a trailing dot, in their
// ASCII (punycode) form, so "bücher.example" and "xn--bcher-kva.example"
// are the same entry. IPv4-mapped IPv6 literals are taken as IPv4.
func ParsePattern(s string) (Pattern, error) {
	bad := func(format string, args ...any) (Pattern, error) {
		return Pattern{}, &PatternError{Pattern: s, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > 300 {
		return bad("longer than 300 bytes")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return bad("contains a space or control character")
		}
	}
	hostPart, portPart, hasPort, err := splitPatternPort(s)
	if err != nil {
		return bad("%v", err)
	}
	p := Pattern{raw: s}
	if hasPort {
		if portPart == "*" {
			p.port = anyPort
		} else {
			n, err := parsePort(portPart)
			if err != nil {
				return bad("%v", err)
			}
			p.port = n
		}
	}
	if pfx, ok, err := parseAddrOrPrefix(hostPart); err != nil {
		return bad("%v", err)
	} else if ok {
		p.kind, p.prefix = kindPrefix, pfx
		return p, nil
	}
	if strings.Contains(hostPart, "/") {
		return bad("a CIDR block needs an IP address before the /")
	}
	if rest, ok := strings.CutPrefix(hostPart, "*."); ok {
		if strings.Contains(rest, "*") {
			return bad("'*' is only allowed as the whole leftmost label")
		}
		name, err := NormalizeHost(rest)
		if err != nil {
			return bad("%v", err)
		}
		if _, err := netip.ParseAddr(name); err == nil {
			return bad("a wildcard cannot precede an IP address")
		}
		p.kind, p.name = kindWildcard, name
		return p, nil
	}
	if strings.Contains(hostPart, "*") {
		if hostPart == "*" {
			return bad("'*' alone would admit every host: use the unrestricted mode instead")
		}
		return bad("'*' is only allowed as the whole leftmost label, as in *.example.com")
	}
	name, err := NormalizeHost(hostPart)
	if err != nil {
		return bad("%v", err)
	}
	p.kind, p.name = kindExact, name
	return p, nil
}

// splitPatternPort separates an optional ":port". A bare IPv6 literal has
// several colons and no port; a bracketed one may have one.
func splitPatternPort(s string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, errors.New("missing ']'")
		}
		host, rest := s[1:end], s[end+1:]
		if !strings.Contains(host, ":") {
			return "", "", false, errors.New("brackets are for IPv6 literals only")
		}
		if rest == "" {
			return host, "", false, nil
		}
		port, ok := strings.CutPrefix(rest, ":")
		if !ok {
			return "", "", false, errors.New("unexpected text after ']'")
		}
		return host, port, true, nil
	}
	switch strings.Count(s, ":") {
	case 0:
		return s, "", false, nil
	case 1:
		host, port, _ = strings.Cut(s, ":")
		if host == "" {
			return "", "", false, errors.New("no host before the port")
		}
		return host, port, true, nil
	default:
		return s, "", false, nil // an IPv6 literal or block without a port
	}
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s[0] == '+' || s[0] == '0' {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535 (or *)", s)
	}
	return n, nil
}

// parseAddrOrPrefix recognises IP literals and CIDR blocks. ok is false
// (with no error) for host names.
func parseAddrOrPrefix(s string) (netip.Prefix, bool, error) {
	if before, _, isCIDR := strings.Cut(s, "/"); isCIDR {
		if _, err := netip.ParseAddr(before); err != nil {
			return netip.Prefix{}, false, nil // let the caller say why
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false, fmt.Errorf("invalid CIDR block: %v", err)
		}
		if pfx.Addr().Zone() != "" {
			return netip.Prefix{}, false, errors.New("zones are not allowed")
		}
		if pfx.Masked() != pfx {
			return netip.Prefix{}, false, fmt.Errorf("host bits set: did you mean %s?", pfx.Masked())
		}
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		return pfx, true, nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		if strings.Contains(s, ":") {
			return netip.Prefix{}, false, fmt.Errorf("invalid IPv6 literal: %v", err)
		}
		return netip.Prefix{}, false, nil
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, false, errors.New("zones are not allowed")
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), true, nil
}

// hostProfile maps names as a resolver would (lower case, width folding,
// punycode) without STD3's refusal of '_', which real names use; the
// result is checked for LDH-and-underscore labels by NormalizeHost.
var hostProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false), idna.Transitional(false))

// NormalizeHost returns the form names are compared in: ASCII
// (punycode), lower case, no trailing dot. IP literals come back in
// canonical form (IPv4-mapped IPv6 as IPv4). It fails for names that no
// resolver would look up.
func NormalizeHost(host string) (string, error) {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return "", errors.New("zones are not allowed")
		}
		return addr.Unmap().String(), nil
	}
	ascii, err := hostProfile.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("invalid host name: %v", err)
	}
	// One trailing dot (the root) is dropped after mapping, which also
	// turns full-width and ideographic dots into ".".
	ascii = strings.TrimSuffix(ascii, ".")
	if ascii == "" {
		return "", errors.New("empty host name")
	}
	if len(ascii) > 253 {
		return "", errors.New("host name longer than 253 bytes")
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if label == "" {
			return "", errors.New("empty label in host name")
		}
		if len(label) > 63 {
			return "", errors.New("label longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("invalid character %q in host name", c)
			}
		}
	}
	// A name made of digits and dots that is not an IP address
	// ("1.2.3", "010.0.0.1") is read as an address by some resolvers:
	// refuse it rather than guess.
	if strings.Trim(ascii, "0123456789.") == "" {
		return "", errors.New("looks like an IP address but is not one")
	}
	return ascii, nil
}
