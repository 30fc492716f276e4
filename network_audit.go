package sandbox

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// Resolver resolves host names for the filtering proxy of allow-list
// sessions (net.DefaultResolver has this method). Tests map names to
// loopback servers with one of their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer dials for the filtering proxy. It is handed resolved addresses
// ("ip:port") that passed the allow-list and the address guard, never a
// name (a *net.Dialer has this method).
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// NetworkEvent is one connection attempt a command made through the
// filtering proxy of an allow-list session.
type NetworkEvent struct {
	Session SessionID `json:"session_id"`
	// Host and Port are what the command asked for (the host in its ASCII,
	// lower-case form).
	Host string `json:"host"`
	Port int    `json:"port"`
	// Addr is the address dialed, or the one the guard refused.
	Addr string `json:"addr,omitempty"`
	// Protocol is "http-connect", "http", "socks5" or "socks4".
	Protocol string `json:"protocol"`
	// Allowed is the verdict; Reason says which entry admitted it, or why
	// it was refused (or, admitted, why the upstream could not be reached).
	Allowed   bool          `json:"allowed"`
	Reason    string        `json:"reason,omitempty"`
	BytesUp   int64         `json:"bytes_up"`
	BytesDown int64         `json:"bytes_down"`
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration_ns"`
}

// NetworkSummary is what a command tried to reach through the proxy:
// counts, bytes, and the refused attempts (at most maxRefusalsKept).
type NetworkSummary struct {
	Allowed   int            `json:"allowed"`
	Refused   int            `json:"refused"`
	BytesUp   int64          `json:"bytes_up"`
	BytesDown int64          `json:"bytes_down"`
	Refusals  []NetworkEvent `json:"refusals,omitempty"`
}

// maxRefusalsKept bounds the refusals a summary carries.
const maxRefusalsKept = 64
