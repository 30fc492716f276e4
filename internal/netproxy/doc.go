// Package netproxy is the filtering proxy behind per-host network
// allow-lists: an HTTP (CONNECT and absolute-form) and SOCKS5 proxy that
// admits only the hosts a session's [List] names, resolves names itself,
// refuses special-use addresses a name resolves to, checks the TLS server
// name of CONNECT tunnels, and audits every attempt.
//
// It is pure Go and knows nothing of namespaces: it serves whatever
// [net.Listener] it is handed.
//
// # How a backend uses it
//
// A backend keeps one [Proxy] (New with its resolver and dialer), and per
// session:
//
//  1. parses the session's allowed hosts with [ParseList] (an error wraps
//     [ErrInvalidPattern]; the backend reports it as its own network
//     policy error) and stores the *List in an atomic.Pointer;
//  2. creates a listener inside the session's network namespace (so that
//     loopback is all the session can reach) and runs
//     go proxy.Serve(l, Session{ID, Policy: ptr.Load, OnEvent: ...});
//  3. points the commands' HTTP_PROXY, HTTPS_PROXY, ALL_PROXY (as
//     socks5h://, so names are resolved here) at the listener and admits
//     exactly that connection in its syscall filter;
//  4. on a policy change parses the new list and swaps the pointer: the
//     next connection (and the next plain HTTP request) is judged by it;
//  5. summarises per exec with a [Counter] fed from OnEvent;
//  6. on terminate closes the listener: Serve returns after closing every
//     connection and tunnel of that session. [Proxy.Close] does that for
//     all sessions and waits for every goroutine.
//
// # Patterns
//
// See [ParsePattern]. An entry without a port admits ports 80 and 443
// only; "host:*" admits any port. An entry names a web service, not
// every service of a host: with "any port" as the default, an entry such
// as "*.amazonaws.com" would make the proxy a TCP relay to every port of
// every machine under that name, which is not what a user who allowed a
// package index meant. Name entries match
// names and address entries (IP literals, CIDR blocks) match addresses:
// "CONNECT 1.2.3.4:443" needs an address entry even when an allowed name
// resolves to 1.2.3.4.
//
// # The address guard
//
// After a name passes the list, it is resolved here and every address is
// checked by [Guard] before any is dialed: loopback, link-local (the
// cloud metadata address included), private, CGNAT, unspecified,
// multicast and reserved addresses, and their IPv4-mapped and NAT64
// forms, are refused unless an address entry no broader than the
// special-use block names them ("10.0.0.0/8" names 10.1.2.3;
// "0.0.0.0/0" names nothing special). Refused addresses are skipped; the
// first admitted one that answers is used. The dialer is handed that
// address, never the name, so what was checked is what is reached.
//
// # Tunnels
//
// A CONNECT or SOCKS5 tunnel starts relaying upstream bytes at once. If
// the client's first bytes are a TLS handshake, the ClientHello is read
// whole (at most 64 KiB, within the handshake timeout) and, when it
// carries a server name that is not the requested host (after the same
// normalisation as the list), the tunnel is closed before a byte reaches
// the upstream and the attempt is audited as refused. Because the client
// already had its "200" (or SOCKS5 success) by then, it sees the
// connection close. A ClientHello that cannot be parsed is refused too;
// one without a server name passes (the host was already checked).
// Encrypted ClientHello, whose outer name is the provider's, is refused
// unless that name is the requested host.
//
// The list is checked when a tunnel opens. Narrowing it refuses the next
// connection; tunnels already open keep running until either side closes
// them or the session's Serve ends. That is the behaviour of a stateful
// firewall, and it keeps a download that was allowed when it started from
// being cut in the middle; a backend that must cut at once ends the
// session's Serve.
//
// Plain HTTP requests are forwarded one per client connection (the proxy
// answers "Connection: close"), so each request is judged by the list in
// force when it arrives.
//
// # Audit
//
// Every attempt yields one [Event] to [Session.OnEvent]: refusals at once,
// admitted tunnels and requests when they end, with the bytes each way.
//
// # What it does not cover
//
// Only clients that speak to a proxy go anywhere: UDP (DNS, QUIC and
// HTTP/3), ICMP and programs that ignore the proxy variables are the
// confinement's business (in a network namespace with loopback only they
// reach nothing). Inside an admitted tunnel the proxy sees only the
// ClientHello: what the client says after the handshake, and any
// protocol that is not TLS, passes unread. Plain HTTP requests are
// forwarded one per connection, without upstream keep-alive. Tunnels and
// requests have no idle timeout of their own; they end with either side
// or with the session.
package netproxy
