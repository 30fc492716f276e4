package netproxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/go-sandbox/sandbox/internal/netproxy"
)

// mapResolver answers from a fixed table, as a test resolver would.
type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := m[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// A session whose commands may reach api.example.test and nothing else.
// Everything stays on loopback: the resolver maps the name to a local
// server, and because loopback is a special-use address the list names
// it explicitly (without that entry the guard would refuse it).
func Example() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer upstream.Close()
	port := upstream.URL[strings.LastIndexByte(upstream.URL, ':')+1:]

	p := netproxy.New(netproxy.Config{
		Resolver: mapResolver{"api.example.test": {netip.MustParseAddr("127.0.0.1")}},
	})
	list, err := netproxy.ParseList([]string{"api.example.test:" + port, "127.0.0.1:" + port})
	if err != nil {
		panic(err)
	}
	var policy atomic.Pointer[netproxy.List]
	policy.Store(list)
	var tally netproxy.Counter

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go p.Serve(ln, netproxy.Session{ID: "demo", Policy: policy.Load, OnEvent: tally.Record})

	client := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: ln.Addr().String()}),
	}}
	for _, host := range []string{"api.example.test", "elsewhere.example.test"} {
		resp, err := client.Get("http://" + host + ":" + port + "/")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(host, resp.Status, strings.ReplaceAll(strings.TrimSpace(string(body)), port, "PORT"))
	}

	p.Close() // waits for every connection, so the tally is complete
	s := tally.Take()
	fmt.Println("allowed", s.Allowed, "refused", s.Refused)
	// Output:
	// api.example.test 200 OK hello
	// elsewhere.example.test 403 Forbidden netproxy: elsewhere.example.test:PORT is not on the allow-list
	// allowed 1 refused 1
}
