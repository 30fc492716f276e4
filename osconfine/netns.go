package osconfine

import "net"

// NetworkNamespace is a network namespace with nothing in it but a
// loopback interface, kept by the local backend for a session whose
// commands may reach the network only through a filtering proxy: the
// proxy listens inside it ([NetworkNamespace.Listen]) and commands are
// started in it (Policy.Namespace), so the proxy is all they can reach.
// Only a root Linux host can make one and join it from a spawner thread
// (an unprivileged process cannot join a namespace it does not own from
// its own user namespace); elsewhere NewNetworkNamespace fails with
// ErrUnsupported.
type NetworkNamespace struct {
	n *netns // per OS
}

// NewNetworkNamespace makes an empty network namespace with loopback up.
func NewNetworkNamespace() (*NetworkNamespace, error) {
	n, err := newNetns()
	if err != nil {
		return nil, err
	}
	return &NetworkNamespace{n: n}, nil
}

// Listen opens a TCP listener on 127.0.0.1 (a free port) inside the
// namespace. The host process accepts on it from any thread: a socket
// stays in the namespace it was made in.
func (n *NetworkNamespace) Listen() (net.Listener, error) { return n.n.listen() }

// Close releases the namespace; it lives on while a listener or a process
// uses it.
func (n *NetworkNamespace) Close() error { return n.n.close() }
