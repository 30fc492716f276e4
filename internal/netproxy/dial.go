package netproxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// outcome is the verdict on one attempt, before any byte is relayed.
type outcome int

const (
	admitted     outcome = iota
	notOnList            // the list does not admit host:port
	guarded              // every resolved address is special-use and unnamed
	unresolvable         // the name did not resolve
	unreachable          // every admitted address failed to dial
)

// attempt is one connection request on its way upstream.
type attempt struct {
	event    Event
	outcome  outcome
	upstream net.Conn
}

// open checks host:port against the session's list, resolves it, guards
// every address and dials the first admitted one. On success the upstream
// connection is tracked by the session; the caller closes it.
func (ss *session) open(proto Protocol, host string, port int) *attempt {
	a := &attempt{event: Event{Protocol: proto, Host: host, Port: port, Start: time.Now()}}
	norm, err := NormalizeHost(host)
	if err != nil {
		a.outcome, a.event.Reason = notOnList, fmt.Sprintf("invalid host %q: %v", host, err)
		return a
	}
	a.event.Host = norm
	list := ss.policy()
	by, ok := list.Allows(norm, port)
	if !ok {
		a.outcome, a.event.Reason = notOnList, fmt.Sprintf("%s is not on the allow-list", net.JoinHostPort(norm, strconv.Itoa(port)))
		return a
	}

	cfg := ss.proxy.cfg
	ctx, cancel := context.WithTimeout(ss.ctx, cfg.DialTimeout)
	defer cancel()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(norm); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = cfg.Resolver.LookupNetIP(ctx, "ip", norm)
		if err == nil && len(addrs) == 0 {
			err = fmt.Errorf("no addresses")
		}
		if err != nil {
			a.event.Allowed = true
			a.outcome, a.event.Reason = unresolvable, fmt.Sprintf("resolving %s: %v", norm, err)
			return a
		}
	}

	// Every address is guarded before any is dialed; an address the guard
	// refuses is skipped, never dialed, so a name that resolves to both a
	// public and a private address reaches only the public one.
	var guardErr, dialErr error
	for _, addr := range addrs {
		if err := Guard(list, addr, port); err != nil {
			if guardErr == nil {
				guardErr, a.event.Addr = err, addr
			}
			continue
		}
		conn, err := cfg.Dialer.DialContext(ctx, "tcp", netip.AddrPortFrom(addr.WithZone("").Unmap(), uint16(port)).String())
		if err != nil {
			if dialErr == nil {
				dialErr = err
			}
			a.event.Addr = addr
			continue
		}
		if !ss.track(conn) {
			conn.Close()
			dialErr = ErrClosed
			break
		}
		a.event.Allowed, a.event.Addr = true, addr
		a.event.Reason = "allowed by " + by.String()
		a.upstream = conn
		return a
	}
	if dialErr != nil {
		a.event.Allowed = true
		a.outcome, a.event.Reason = unreachable, fmt.Sprintf("dialing %s: %v", norm, dialErr)
		return a
	}
	a.outcome, a.event.Reason = guarded, guardErr.Error()
	return a
}

// closeUpstream closes and untracks the upstream connection.
func (ss *session) closeUpstream(a *attempt) {
	if a.upstream != nil {
		a.upstream.Close()
		ss.untrack(a.upstream)
	}
}
