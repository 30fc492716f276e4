package kube

import (
	"errors"
	"net/url"
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
)

// execURL is the pods/exec URL of a command. It is built from the REST
// config rather than a clientset's REST client, so that a fake clientset
// (which has none) can be combined with a real exec server in tests.
func execURL(cfg *rest.Config, namespace, pod string, argv []string, stdin bool) (*url.URL, error) {
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, err
	}
	u.Path = path.Join(u.Path, "/api/v1/namespaces", namespace, "pods", pod, "exec")
	q := url.Values{}
	q.Set("container", containerName)
	for _, a := range argv {
		q.Add("command", a)
	}
	q.Set("stdout", "true")
	q.Set("stderr", "true")
	if stdin {
		q.Set("stdin", "true")
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// executor returns the stream executor for one command. In ProtocolAuto
// the WebSocket executor runs first and SPDY is tried only when the
// WebSocket upgrade itself failed: any later error means the command may
// have run, and running it again would repeat its effects.
func (b *Backend) executor(pod *corev1.Pod, argv []string, stdin bool) (remotecommand.Executor, error) {
	if b.cfg.RESTConfig == nil {
		return nil, errors.New("Config.RESTConfig is required to run commands")
	}
	u, err := execURL(b.cfg.RESTConfig, b.cfg.Namespace, pod.Name, argv, stdin)
	if err != nil {
		return nil, err
	}
	spdy := func() (remotecommand.Executor, error) {
		return remotecommand.NewSPDYExecutor(b.cfg.RESTConfig, "POST", u)
	}
	ws := func() (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutor(b.cfg.RESTConfig, "GET", u.String())
	}
	switch b.cfg.ExecProtocol {
	case ProtocolSPDY:
		return spdy()
	case ProtocolWebSocket:
		return ws()
	}
	w, err := ws()
	if err != nil {
		return nil, err
	}
	s, err := spdy()
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(w, s, upgradeFailed)
}

// upgradeFailed is the only condition for falling back to SPDY. The
// error types are k8s.io/streaming's: client-go's WebSocket transport
// returns those, and apimachinery's older httpstream package has types of
// the same name that never match.
func upgradeFailed(err error) bool {
	return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
}
