package netproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCloseEndsEverything opens tunnels, a half-read request and an idle
// connection on two sessions, closes the Proxy, and checks that every
// Serve returned, every client connection was closed, and no goroutine
// or file descriptor outlived it.
func TestCloseEndsEverything(t *testing.T) {
	echo := startEcho(t)
	leaks := checkNoLeaks(t)

	fn := newFakeNet()
	fn.name("echo.test", "203.0.113.50")
	fn.route(t, "203.0.113.50:7", echo)
	p := New(Config{Resolver: fn, Dialer: fn})
	list := MustParseList("echo.test:7")
	var served sync.WaitGroup
	var addrs []string
	for _, id := range []string{"a", "b"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		served.Add(1)
		go func() {
			defer served.Done()
			if err := p.Serve(ln, Session{ID: id, Policy: func() *List { return list }}); !errors.Is(err, ErrClosed) {
				t.Errorf("Serve returned %v, want ErrClosed", err)
			}
		}()
	}
	var clients []net.Conn
	for _, addr := range addrs {
		tp := &testProxy{addr: addr}
		tun, status, _ := tp.connect(t, "echo.test:7")
		if status != 200 {
			t.Fatal(status)
		}
		roundTrip(t, tun, "x")
		clients = append(clients, tun)
		s5, code := socks5Request(t, addr, socks5CmdConnect, "echo.test", 7)
		if code != 0 {
			t.Fatal(code)
		}
		clients = append(clients, s5)
		idle, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(idle, "GET http://echo.test:7/ HTTP/1.1\r\n") // never finished
		clients = append(clients, idle)
	}
	time.Sleep(50 * time.Millisecond) // let the idle handshakes reach the proxy

	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	served.Wait()
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("client connection still open after Close: %v", err)
		}
		c.Close()
	}
	if err := p.Serve(mustListen(t), Session{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close = %v", err)
	}
	p.Close() // twice is fine
	leaks()
}

// TestServeEndsWithListener: closing one session's listener ends only
// that session.
func TestServeEndsWithListener(t *testing.T) {
	echo := startEcho(t)
	fn := newFakeNet()
	fn.name("echo.test", "203.0.113.50")
	fn.route(t, "203.0.113.50:7", echo)
	a := startProxy(t, fn, "echo.test:7")
	lnB := mustListen(t)
	servedB := make(chan error, 1)
	go func() {
		servedB <- a.Serve(lnB, Session{ID: "b", Policy: func() *List { return MustParseList("echo.test:7") }})
	}()
	tunA, _, _ := a.connect(t, "echo.test:7")
	tunB, _, _ := (&testProxy{addr: lnB.Addr().String()}).connect(t, "echo.test:7")
	roundTrip(t, tunB, "b")
	lnB.Close()
	if err := <-servedB; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve = %v, want net.ErrClosed", err)
	}
	tunB.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := tunB.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("session b's tunnel survived: %v", err)
	}
	roundTrip(t, tunA, "a still works")
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// flakyListener fails its first Accepts with a temporary error, as
// accept(2) does with EMFILE.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

type tempErr struct{}

func (tempErr) Error() string   { return "too many open files" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, tempErr{}
	}
	return l.Listener.Accept()
}

// TestServeSurvivesTemporaryAcceptErrors: running out of descriptors for
// a moment must not end a session's network.
func TestServeSurvivesTemporaryAcceptErrors(t *testing.T) {
	fl := &flakyListener{Listener: mustListen(t)}
	fl.fails.Store(3)
	p := New(Config{Resolver: newFakeNet(), Dialer: newFakeNet()})
	defer p.Close()
	go p.Serve(fl, Session{ID: "s"})
	_, status, _ := (&testProxy{addr: fl.Addr().String()}).connect(t, "any.test:443")
	if status != 403 {
		t.Errorf("status %d after temporary accept errors, want the proxy's 403", status)
	}
}
