package sandbox

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sandbox/sandbox/internal/netproxy"
	"github.com/go-sandbox/sandbox/osconfine"
)

// Per-host allow-lists (see README): a session whose policy names hosts
// gets its own network namespace with only loopback, the backend's
// filtering proxy listening inside it, and commands started in it with the
// proxy variables set. What the proxy admits is read at each connection,
// so ApplyNetworkPolicy from one list to another takes effect at once,
// for running commands too.

// sessionProxy is a session's end of the filtering proxy.
type sessionProxy struct {
	ns     *osconfine.NetworkNamespace
	ln     net.Listener
	port   uint16
	list   atomic.Pointer[netproxy.List]
	served chan struct{} // closed when Serve has returned
	// inFlight lets a summary wait for the attempts of a command that
	// ended before the proxy reported them.
	inFlight netproxy.InFlight

	mu     sync.Mutex
	recent []NetworkEvent // the latest attempts, for per-exec summaries
}

// summaryGrace is how long a summary waits for the proxy to finish the
// connections the command opened.
const summaryGrace = 250 * time.Millisecond

// recentKept bounds the attempts a session remembers for summaries.
const recentKept = 1024

// proxyFor returns the backend's proxy, made on first use.
func (l *Local) proxyFor() *netproxy.Proxy {
	l.proxyOnce.Do(func() {
		cfg := netproxy.Config{}
		if l.cfg.Resolver != nil {
			cfg.Resolver = l.cfg.Resolver
		}
		if l.cfg.Dialer != nil {
			cfg.Dialer = l.cfg.Dialer
		}
		l.proxy = netproxy.New(cfg)
	})
	return l.proxy
}

// startSessionProxy makes the namespace and listener and starts serving.
func (l *Local) startSessionProxy(id SessionID, list *netproxy.List, view *osconfine.View) (*sessionProxy, error) {
	var ns *osconfine.NetworkNamespace
	var ln net.Listener
	var err error
	if view != nil {
		// The view owns its namespace; the listener is made in it.
		if ln, err = view.Listen(); err != nil {
			return nil, err
		}
	} else {
		if m := osconfine.Probe().NetworkAllowList; !m.Enforced {
			return nil, fmt.Errorf("%w: per-host network allow-list: %s", osconfine.ErrUnsupported, m.Reason)
		}
		if ns, err = osconfine.NewNetworkNamespace(); err != nil {
			return nil, err
		}
		if ln, err = ns.Listen(); err != nil {
			ns.Close()
			return nil, err
		}
	}
	sp := &sessionProxy{ns: ns, ln: ln, port: uint16(ln.Addr().(*net.TCPAddr).Port), served: make(chan struct{})}
	sp.list.Store(list)
	onEvent := l.cfg.OnNetworkEvent
	go func() {
		defer close(sp.served)
		l.proxyFor().Serve(ln, netproxy.Session{ID: string(id), Policy: sp.list.Load, InFlight: &sp.inFlight, OnEvent: func(e netproxy.Event) {
			ev := networkEventFrom(id, e)
			sp.remember(ev)
			if onEvent != nil {
				onEvent(ev)
			}
		}})
	}()
	return sp, nil
}

// close stops serving (cutting the session's tunnels) and releases the
// namespace.
func (sp *sessionProxy) close() {
	sp.ln.Close()
	<-sp.served
	if sp.ns != nil {
		sp.ns.Close()
	}
}

func (sp *sessionProxy) remember(e NetworkEvent) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.recent) == recentKept {
		copy(sp.recent, sp.recent[1:])
		sp.recent = sp.recent[:recentKept-1]
	}
	sp.recent = append(sp.recent, e)
}

// summary is what the session's commands tried between from and to: the
// attempts that began in that window and were over by its end (refusals
// are recorded at once, admitted attempts when they end). Commands of the
// session that run at the same time share one namespace, so their
// attempts cannot be told apart: each sees the others' too.
func (sp *sessionProxy) summary(from, to time.Time) *NetworkSummary {
	// A connection the command opened may still be finishing (its event
	// comes when it ends); a connection kept open longer than this, by a
	// process the command left running, is left out.
	sp.inFlight.Wait(from, summaryGrace)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	s := &NetworkSummary{}
	for _, e := range sp.recent {
		if e.Start.Before(from) || e.Start.After(to) {
			continue
		}
		if e.Allowed {
			s.Allowed++
			s.BytesUp += e.BytesUp
			s.BytesDown += e.BytesDown
		} else {
			s.Refused++
			if len(s.Refusals) < maxRefusalsKept {
				s.Refusals = append(s.Refusals, e)
			}
		}
	}
	return s
}

// proxyEnv points a command's proxy variables at the session's proxy:
// upper and lower case, as clients read either; socks5h so that names
// are resolved by the proxy, never by the command.
func (sp *sessionProxy) proxyEnv(env map[string]string) {
	http := fmt.Sprintf("http://127.0.0.1:%d", sp.port)
	socks := fmt.Sprintf("socks5h://127.0.0.1:%d", sp.port)
	for k, v := range map[string]string{"HTTP_PROXY": http, "HTTPS_PROXY": http, "ALL_PROXY": socks, "NO_PROXY": ""} {
		env[k] = v
		env[strings.ToLower(k)] = v
	}
}

func networkEventFrom(id SessionID, e netproxy.Event) NetworkEvent {
	ev := NetworkEvent{Session: id, Host: e.Host, Port: e.Port, Protocol: string(e.Protocol), Allowed: e.Allowed,
		Reason: e.Reason, BytesUp: e.BytesUp, BytesDown: e.BytesDown, Start: e.Start, Duration: e.Duration}
	if e.Addr.IsValid() {
		ev.Addr = e.Addr.String()
	}
	return ev
}

// isAllowList reports whether p admits some hosts and not all.
func isAllowList(p NetworkPolicy) bool {
	return p.Mode != NetworkUnrestricted && !p.IsDenyAll()
}

// ensureProxyLocked starts the session's proxy when its policy is an
// allow-list and none runs yet. Caller holds mu.
func (s *localSession) ensureProxyLocked() error {
	if s.proxy != nil || !isAllowList(s.network) || s.profile != OSHardened {
		return nil
	}
	list, err := netproxy.ParseList(s.network.AllowedHosts)
	if err != nil {
		return err // Validate has already refused what would fail here
	}
	sp, err := s.backend.startSessionProxy(s.id, list, s.view)
	if err != nil {
		return err
	}
	s.proxy = sp
	return nil
}
