// Package fakenode stands in for the parts of a Kubernetes node the
// backend's tests need: a kubelet exec endpoint served by the kubelet's own
// exec server (cri-streaming's ServeExec), an API-server front for exec
// (WebSocket translated to SPDY by the API server's own translator, SPDY
// served directly) for tests without a control plane, and a node
// controller that, against a real API server, binds pods, runs them as
// local sandbox sessions and deletes them as a kubelet does.
package fakenode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// Runner runs one exec'd command in a pod's container and returns its
// exit code.
type Runner interface {
	Run(ctx context.Context, namespace, pod string, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// execAdapter turns a Runner into the exec server's Executor.
type execAdapter struct {
	runner    Runner
	namespace string
	execs     *atomic.Int64
}

func (a execAdapter) ExecInContainer(ctx context.Context, name, uid, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	a.execs.Add(1)
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if out != nil {
		stdout = out
	}
	if errw != nil {
		stderr = errw
	}
	code, err := a.runner.Run(ctx, a.namespace, name, cmd, in, stdout, stderr)
	if err != nil {
		return err
	}
	if code != 0 {
		// ServeExec recognises this type only as itself, not wrapped.
		return utilexec.CodeExitError{Err: fmt.Errorf("command exited %d", code), Code: code}
	}
	return nil
}

// Kubelet is a TLS server answering the kubelet's exec endpoint,
// /exec/{namespace}/{pod}/{container}, with SPDY.
type Kubelet struct {
	Server *httptest.Server
	runner Runner
	execs  atomic.Int64
}

// NewKubelet starts a kubelet exec endpoint on 127.0.0.1.
func NewKubelet(runner Runner) *Kubelet {
	k := &Kubelet{runner: runner}
	k.Server = httptest.NewTLSServer(http.HandlerFunc(k.serveExec))
	return k
}

// Execs is how many commands the kubelet has started.
func (k *Kubelet) Execs() int64 { return k.execs.Load() }

func (k *Kubelet) Close() { k.Server.Close() }

func (k *Kubelet) serveExec(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "exec" {
		http.Error(w, "not an exec path: "+r.URL.Path, http.StatusNotFound)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	k.serve(w, r, parts[1], parts[2], parts[3], r.URL.Query()["command"], opts)
}

func (k *Kubelet) serve(w http.ResponseWriter, r *http.Request, ns, pod, container string, cmd []string, opts *remotecommand.Options) {
	remotecommand.ServeExec(w, r, execAdapter{runner: k.runner, namespace: ns, execs: &k.execs}, pod, "", container, cmd, opts,
		time.Minute, 30*time.Second, remotecommandconsts.SupportedStreamingProtocols)
}

// errNoPod is what a Runner answers for a pod it does not run.
var errNoPod = errors.New("no such pod on this node")
