package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-sandbox/sandbox/internal/netproxy"
)

// NetworkMode is the wire name of a network policy's mode.
type NetworkMode string

const (
	// NetworkUnrestricted leaves the network as the host has it.
	NetworkUnrestricted NetworkMode = "unrestricted"
	// NetworkLimited admits only AllowedHosts; with none, all network
	// access is denied (unix socketpairs keep working).
	NetworkLimited NetworkMode = "limited"
)

// NetworkPolicy is a session's network access. Its JSON form is
// {"mode":"unrestricted"} or {"mode":"limited","allowed_hosts":[...]}, so
// hosted backends can forward it verbatim. The zero value denies all
// network access.
type NetworkPolicy struct {
	Mode         NetworkMode `json:"mode"`
	AllowedHosts []string    `json:"allowed_hosts,omitempty"`
}

// AllowAll is the unrestricted policy.
func AllowAll() NetworkPolicy { return NetworkPolicy{Mode: NetworkUnrestricted} }

// DenyAll refuses all network access.
func DenyAll() NetworkPolicy { return NetworkPolicy{Mode: NetworkLimited} }

// AllowHosts admits only the named hosts, through a filtering proxy (the
// local backend enforces it on root Linux hosts; Capabilities says where).
// Each entry is one of:
//
//   - a host name, "pypi.org": that name exactly (case-insensitive, a
//     trailing dot ignored, internationalised names compared in their
//     ASCII form);
//   - a wildcard, "*.githubusercontent.com": every subdomain, not the name
//     itself and not "evilgithubusercontent.com";
//   - an IP address or CIDR block, "192.0.2.10", "2001:db8::/32", which
//     admits connections to those addresses given as such;
//
// each optionally with a port, "example.com:8443", or any port,
// "example.com:*". Without a port an entry admits 80 and 443 only: an
// entry names a web service, not every service of a host. A name that
// resolves to a loopback, link-local (cloud metadata), private or other
// special-use address is refused unless an address entry names that
// address. An invalid entry is an ErrNetworkPolicy.
func AllowHosts(hosts ...string) NetworkPolicy {
	return NetworkPolicy{Mode: NetworkLimited, AllowedHosts: hosts}
}

// IsDenyAll reports whether p refuses all network access.
func (p NetworkPolicy) IsDenyAll() bool {
	return p.Mode != NetworkUnrestricted && len(p.AllowedHosts) == 0
}

// normalized returns p with the empty mode spelled out.
func (p NetworkPolicy) normalized() NetworkPolicy {
	if p.Mode == "" {
		p.Mode = NetworkLimited
	}
	return p
}

// Validate checks the mode and the host names; its errors wrap
// ErrNetworkPolicy.
func (p NetworkPolicy) Validate() error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrNetworkPolicy, err)
	}
	return nil
}

// validate is Validate without the sentinel, for backend errors that carry
// it as their kind.
func (p NetworkPolicy) validate() error {
	switch p.Mode {
	case "", NetworkLimited:
	case NetworkUnrestricted:
		if len(p.AllowedHosts) > 0 {
			return errors.New("allowed_hosts given with mode unrestricted")
		}
	default:
		return fmt.Errorf("unknown mode %q", p.Mode)
	}
	// Hosts follow the filtering proxy's patterns (see AllowHosts).
	if _, err := netproxy.ParseList(p.AllowedHosts); err != nil {
		return err
	}
	return nil
}

// MarshalJSON writes the zero value as {"mode":"limited"}.
func (p NetworkPolicy) MarshalJSON() ([]byte, error) {
	type wire NetworkPolicy
	return json.Marshal(wire(p.normalized()))
}
