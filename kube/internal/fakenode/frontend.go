package fakenode

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"

	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/rest"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// Frontend answers the API server's pods/exec subresource for tests
// without a control plane: a WebSocket request goes through the API
// server's WebSocket-to-SPDY translator to the kubelet, as kube-apiserver
// does; an SPDY request is served by the kubelet's exec server directly.
type Frontend struct {
	Server  *httptest.Server
	Kubelet *Kubelet
	// RejectWebSocket makes WebSocket upgrades fail, as on an API server
	// (or proxy) that does not speak them.
	RejectWebSocket atomic.Bool
	// Requests counts exec requests by protocol ("websocket", "spdy").
	WebSocketRequests, SPDYRequests atomic.Int64
}

var execPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec$`)

// NewFrontend starts a front for k on 127.0.0.1.
func NewFrontend(k *Kubelet) *Frontend {
	f := &Frontend{Kubelet: k}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	return f
}

// RESTConfig reaches the front.
func (f *Frontend) RESTConfig() *rest.Config {
	return &rest.Config{Host: f.Server.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
}

func (f *Frontend) Close() { f.Server.Close() }

func (f *Frontend) serve(w http.ResponseWriter, r *http.Request) {
	m := execPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		http.Error(w, "only pods/exec is served here", http.StatusNotFound)
		return
	}
	ns, pod := m[1], m[2]
	q := r.URL.Query()
	container := q.Get("container")
	opts := &remotecommand.Options{Stdin: q.Get("stdin") == "true", Stdout: q.Get("stdout") == "true", Stderr: q.Get("stderr") == "true"}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		f.WebSocketRequests.Add(1)
		if f.RejectWebSocket.Load() {
			http.Error(w, "websocket not supported here", http.StatusBadRequest)
			return
		}
		// The kubelet's query spells the streams as the kubelet does.
		kq := url.Values{"command": q["command"]}
		for param, on := range map[string]bool{"input": opts.Stdin, "output": opts.Stdout, "error": opts.Stderr} {
			if on {
				kq.Set(param, "1")
			}
		}
		loc, _ := url.Parse(f.Kubelet.Server.URL)
		loc.Path = "/exec/" + ns + "/" + pod + "/" + container
		loc.RawQuery = kq.Encode()
		h := proxy.NewStreamTranslatorHandler(loc, f.Kubelet.Server.Client().Transport, 0,
			proxy.Options{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr})
		h.ServeHTTP(w, r)
		return
	}
	f.SPDYRequests.Add(1)
	f.Kubelet.serve(w, r, ns, pod, container, q["command"], opts)
}
