package sandbox_test

// Hardening: the network under deny-all, and unix sockets.

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sandbox/sandbox"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// denyAllSession provisions a deny-all session, skipping where the host
// cannot enforce deny-all (the mechanism is named).
func denyAllSession(t *testing.T, l *sandbox.Local) *sandbox.Session {
	t.Helper()
	requireConfinement(t, l)
	requireMechanism(t, "deny-all network", l.Capabilities().Enforcement.NetworkDenyAll)
	sess := provision(t, l, sandbox.Spec{NetworkPolicy: sandbox.DenyAll()})
	if !sess.NetworkPolicy.IsDenyAll() {
		t.Fatalf("session policy %+v is not deny-all", sess.NetworkPolicy)
	}
	return sess
}

// TCP under deny-all is TestApplyNetworkPolicyChangesNextExec's.
func TestHardeningNetworkDenyAllUDP(t *testing.T) {
	l, _ := newLocal(t)
	denied := denyAllSession(t, l)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	addr := pc.LocalAddr().String()
	receive := func(wait time.Duration) string {
		pc.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 256)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}

	got := runHelperIn(t, l, denied, "udp", addr)
	assert.Equal(t, "EPERM", got["udp_socket"], "deny-all: udp socket (send %q)", got["udp_send"])
	if msg := receive(300 * time.Millisecond); msg != "" {
		t.Fatalf("deny-all: the listener received %q", msg)
	}

	open := provision(t, l, sandbox.Spec{NetworkPolicy: sandbox.AllowAll()})
	got = runHelperIn(t, l, open, "udp", addr)
	expect(t, "allow-all", got, map[string]string{"udp_socket": "OK", "udp_send": "OK"})
	if msg := receive(5 * time.Second); msg != "udp from the child" {
		t.Fatalf("allow-all: the listener received %q, want the child's datagram", msg)
	}
}

func TestHardeningNetworkDenyAllSocketFamilies(t *testing.T) {
	l, _ := newLocal(t)
	denied := denyAllSession(t, l)
	got := runHelperIn(t, l, denied, "sockets", "all")
	want := map[string]string{"socketpair_unix": "OK"}
	for _, f := range []string{"inet_udp", "inet_tcp", "inet6_udp", "inet_raw", "packet", "netlink", "vsock",
		"mptcp", "sctp", "inet_hibits", "socketpair_inet", "unix_socket"} {
		want[f] = "EPERM"
	}
	abi := l.Capabilities().Enforcement.LandlockABI
	if abi >= 9 {
		// Pathname sockets are scoped by Landlock instead: socket() works.
		want["unix_socket"] = "OK"
	}
	expect(t, "deny-all", got, want)

	// Sibling: under allow-all the same families are created (those the
	// kernel admits for a process without capabilities). AF_UNIX sockets
	// stay refused below Landlock ABI 9 under every network mode.
	open := provision(t, l, sandbox.Spec{NetworkPolicy: sandbox.AllowAll()})
	got = runHelperIn(t, l, open, "sockets", "all")
	expect(t, "allow-all", got, map[string]string{
		"inet_udp": "OK", "inet_tcp": "OK", "netlink": "OK", "inet_hibits": "OK", "socketpair_unix": "OK",
		"unix_socket": want["unix_socket"],
	})
	if got["socketpair_inet"] == "EPERM" {
		t.Errorf("allow-all: socketpair(AF_INET) = EPERM, want the kernel's own answer (EOPNOTSUPP)")
	}
}

func TestHardeningNetworkDenyAllEmptyNamespace(t *testing.T) {
	l, _ := newLocal(t)
	denied := denyAllSession(t, l)
	selfNS, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	hostIfaces, err := netDevices("/proc/self/net/dev")
	require.NoError(t, err)
	if !strings.Contains(l.Capabilities().Enforcement.NetworkDenyAll.By, "network namespace") {
		t.Skipf("no network namespace on this host (deny-all by %s)", l.Capabilities().Enforcement.NetworkDenyAll.By)
	}
	got := runHelperIn(t, l, denied, "netinfo", "")
	if got["netns"] == "" || got["netns"] == selfNS {
		t.Errorf("deny-all: the child's network namespace %q is the host's %q", got["netns"], selfNS)
	}
	assert.Equal(t, "lo", got["ifaces"], "deny-all: the interfaces the child sees")
	if len(hostIfaces) < 2 {
		t.Logf("the host has only %v: the namespace comparison is the evidence", hostIfaces)
	}

	// Sibling: allow-all children share the host's namespace and see its
	// interfaces.
	open := provision(t, l, sandbox.Spec{NetworkPolicy: sandbox.AllowAll()})
	got = runHelperIn(t, l, open, "netinfo", "")
	if got["netns"] != selfNS || got["ifaces"] != strings.Join(hostIfaces, ",") {
		t.Errorf("allow-all: child netns %q ifaces %q, want the host's %q %q", got["netns"], got["ifaces"], selfNS, strings.Join(hostIfaces, ","))
	}
}

// accepted accepts every connection of ln until it is closed and delivers
// the first line each one sent.
func accepted(ln net.Listener) <-chan string {
	ch := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			ch <- line
		}
	}()
	return ch
}

// acceptOne waits up to wait for a connection on ch.
func acceptOne(ch <-chan string, wait time.Duration) (string, bool) {
	select {
	case got := <-ch:
		return got, true
	case <-time.After(wait):
		return "", false
	}
}

func TestHardeningUnixSocketsOutsideRefused(t *testing.T) {
	l, _ := newLocal(t)
	requireConfinement(t, l)
	requireMechanism(t, "unix socket confinement", l.Capabilities().Enforcement.UnixSockets)
	abi := l.Capabilities().Enforcement.LandlockABI
	// Every network mode: allow-all is the one where only the unix socket
	// rule stands between the child and a host service.
	sess := provision(t, l, sandbox.Spec{NetworkPolicy: sandbox.AllowAll()})

	check := func(t *testing.T, ln net.Listener, name string) {
		conns := accepted(ln)
		got := runHelperIn(t, l, sess, "unixconnect", name)
		refused := got["socket"] == "EPERM" ||
			got["socket"] == "OK" && (got["connect"] == "EACCES" || got["connect"] == "EPERM")
		// In the session's own view a host socket it does not name is
		// out of sight: its path does not exist there.
		absent := hasView(sess) && !strings.HasPrefix(name, "@") && got["socket"] == "OK" && got["connect"] == "ENOENT"
		if !refused && !absent {
			t.Errorf("connect to %s: %v, want socket()=EPERM or connect()=EACCES/EPERM (or ENOENT in a view)", name, got)
		}
		if abi < 9 && got["socket"] != "EPERM" {
			t.Errorf("Landlock ABI %d: socket(AF_UNIX) = %q, want EPERM", abi, got["socket"])
		}
		assert.Equal(t, "OK", got["socketpair"], "socketpair in the same run")
		if msg, ok := acceptOne(conns, 300*time.Millisecond); ok {
			t.Fatalf("the host service accepted a connection from the child (%q)", msg)
		}
		// Sibling: the listener works, the test's own connection reaches it.
		c, err := net.Dial("unix", name)
		require.NoError(t, err, "the test's own connect")
		c.Write([]byte("from the test\n"))
		if msg, ok := acceptOne(conns, 5*time.Second); !ok || msg != "from the test\n" {
			t.Fatalf("the listener did not get the test's own connection: %q %v", msg, ok)
		}
		c.Close()
	}

	// listen serves a pathname socket every user may connect to, so a
	// refusal is the sandbox's doing.
	listen := func(t *testing.T, path string) net.Listener {
		ln, err := net.Listen("unix", path)
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		require.NoError(t, os.Chmod(path, 0o777))
		return ln
	}
	t.Run("pathname", func(t *testing.T) {
		path := filepath.Join(outsideDir(t), "host-service.sock")
		check(t, listen(t, path), path)
	})
	t.Run("named in the spec", func(t *testing.T) {
		// Sibling: a socket the session names is reachable.
		path := filepath.Join(outsideDir(t), "allowed.sock")
		ln := listen(t, path)
		named := provision(t, l, sandbox.Spec{NetworkPolicy: sandbox.AllowAll(), UnixSockets: []string{path}})
		conns := accepted(ln)
		got := runHelperIn(t, l, named, "unixconnect", path)
		if got["socket"] != "OK" || got["connect"] != "OK" {
			t.Fatalf("connect to the named socket %s: %v, want OK", path, got)
		}
		if _, ok := acceptOne(conns, 5*time.Second); !ok {
			t.Fatal("the named socket's server accepted nothing")
		}
	})
	t.Run("abstract", func(t *testing.T) {
		name := fmt.Sprintf("@sandbox-test-%d", rand.Uint64())
		ln, err := net.Listen("unix", name)
		require.NoError(t, err)
		defer ln.Close()
		check(t, ln, name)
	})
}
