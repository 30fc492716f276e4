package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
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

// AllowHosts admits only the named hosts.
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

// Validate checks the mode and the host names.
func (p NetworkPolicy) Validate() error {
	switch p.Mode {
	case "", NetworkLimited:
	case NetworkUnrestricted:
		if len(p.AllowedHosts) > 0 {
			return fmt.Errorf("%w: allowed_hosts given with mode unrestricted", ErrNetworkPolicy)
		}
	default:
		return fmt.Errorf("%w: unknown mode %q", ErrNetworkPolicy, p.Mode)
	}
	for _, h := range p.AllowedHosts {
		if h == "" || strings.ContainsAny(h, " \t\r\n\x00/") {
			return fmt.Errorf("%w: invalid host %q", ErrNetworkPolicy, h)
		}
	}
	return nil
}

// MarshalJSON writes the zero value as {"mode":"limited"}.
func (p NetworkPolicy) MarshalJSON() ([]byte, error) {
	type wire NetworkPolicy
	return json.Marshal(wire(p.normalized()))
}
