package netproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// serveHTTP serves one HTTP request: a CONNECT tunnel, or one
// absolute-form request forwarded upstream. The client connection is
// closed after it, so that each request is checked against the list in
// force when it arrives.
func (ss *session) serveHTTP(c *clientConn) {
	start := time.Now()
	req, err := http.ReadRequest(c.br)
	if err != nil {
		status, reason := http.StatusBadRequest, "malformed request"
		if errors.Is(err, errTooLarge) {
			status, reason = http.StatusRequestHeaderFieldsTooLarge, "request header too large"
		}
		if errors.Is(err, io.EOF) {
			return // a client that connected and went away asked for nothing
		}
		ss.emit(Event{Protocol: ProtoHTTP, Reason: reason + ": " + err.Error(), Start: start})
		writeStatus(c, status, reason)
		return
	}
	c.endHandshake()
	if req.Method == http.MethodConnect {
		ss.serveConnect(c, req, start)
		return
	}
	ss.forward(c, req, start)
}

// serveConnect answers "CONNECT host:port".
func (ss *session) serveConnect(c *clientConn, req *http.Request, start time.Time) {
	host, port, err := splitHostPort(req.RequestURI)
	if err != nil {
		reason := fmt.Sprintf("CONNECT target %q: %v", req.RequestURI, err)
		ss.emit(Event{Protocol: ProtoHTTPConnect, Reason: reason, Start: start})
		writeStatus(c, http.StatusBadRequest, reason)
		return
	}
	a := ss.open(ProtoHTTPConnect, host, port)
	a.event.Start = start
	if a.outcome != admitted {
		ss.emit(a.event)
		writeStatus(c, httpStatus(a.outcome), a.event.Reason)
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		ss.closeUpstream(a)
		a.event.Reason = "client went away: " + err.Error()
		ss.emit(a.event)
		return
	}
	ss.relay(c, a, a.event.Host)
}

// forward proxies one absolute-form request ("GET http://host/path").
func (ss *session) forward(c *clientConn, req *http.Request, start time.Time) {
	defer req.Body.Close()
	if req.URL.Scheme != "http" || req.URL.Host == "" {
		reason := "only CONNECT and absolute-form http:// requests are proxied"
		ss.emit(Event{Protocol: ProtoHTTP, Host: req.Host, Reason: reason, Start: start})
		writeStatus(c, http.StatusBadRequest, reason)
		return
	}
	host, port := req.URL.Hostname(), 80
	if p := req.URL.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			reason := fmt.Sprintf("invalid port %q", p)
			ss.emit(Event{Protocol: ProtoHTTP, Host: host, Reason: reason, Start: start})
			writeStatus(c, http.StatusBadRequest, reason)
			return
		}
		port = n
	}
	a := ss.open(ProtoHTTP, host, port)
	a.event.Start = start
	if a.outcome != admitted {
		ss.emit(a.event)
		writeStatus(c, httpStatus(a.outcome), a.event.Reason)
		return
	}
	defer ss.closeUpstream(a)

	// The request goes upstream in origin form with the URL's host as
	// Host (ReadRequest already preferred it over a Host header), without
	// hop-by-hop headers or the proxy's credentials, and asking the
	// upstream to close: the next request is a new attempt.
	expectContinue := strings.EqualFold(req.Header.Get("Expect"), "100-continue")
	removeHopByHop(req.Header)
	req.Header.Del("Expect")
	req.Close = true
	if expectContinue {
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
	}
	up := &countWriter{w: a.upstream}
	down := &countWriter{w: c}
	defer func() {
		a.event.BytesUp, a.event.BytesDown = up.n, down.n
		ss.emit(a.event)
	}()
	if err := req.Write(up); err != nil {
		writeStatus(down, http.StatusBadGateway, "writing the request upstream: "+err.Error())
		a.event.Reason = "writing upstream: " + err.Error()
		return
	}
	br := bufio.NewReader(a.upstream)
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			writeStatus(down, http.StatusBadGateway, "reading the upstream response: "+err.Error())
			a.event.Reason = "reading upstream: " + err.Error()
			return
		}
		removeHopByHop(resp.Header)
		informational := resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols
		if !informational {
			resp.Close = true
		}
		err = resp.Write(down)
		resp.Body.Close()
		if err != nil || !informational {
			return
		}
	}
}

// hopByHop are the headers that concern one connection, not the request
// (RFC 9110 section 7.6.1), plus the proxy's own credentials.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

// splitHostPort splits a CONNECT authority; the port is required.
func splitHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", p)
	}
	if host == "" {
		return "", 0, errors.New("no host")
	}
	return host, port, nil
}

func httpStatus(o outcome) int {
	switch o {
	case notOnList, guarded:
		return http.StatusForbidden
	case unresolvable, unreachable:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// writeStatus answers with a short plain-text reason and closes the
// exchange.
func writeStatus(w io.Writer, status int, reason string) {
	body := "netproxy: " + reason + "\n"
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// countWriter counts what it passes on.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
