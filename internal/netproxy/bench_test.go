package netproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// loopResolver maps every name to 127.0.0.1.
type loopResolver struct{}

func (loopResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// loopbackDialer is a real dialer that refuses every address but
// loopback, so that a broken guard cannot send a packet elsewhere.
type loopbackDialer struct{ net.Dialer }

func (d loopbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if ap, err := netip.ParseAddrPort(addr); err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("benchmark dialer: %s is not loopback", addr)
	}
	return d.Dialer.DialContext(ctx, network, addr)
}

// benchProxy serves a proxy with the default dialer whose list admits
// bench.test and the loopback server's port.
// Events go to a Counter, as a backend would count them per exec.
func benchProxy(b *testing.B, port string) (string, *Counter) {
	b.Helper()
	ln := mustListen(b)
	p := New(Config{Resolver: loopResolver{}, Dialer: loopbackDialer{}})
	b.Cleanup(func() { p.Close() })
	list := MustParseList("bench.test:"+port, "127.0.0.1:"+port)
	var tally Counter
	go p.Serve(ln, Session{ID: "bench", Policy: func() *List { return list }, OnEvent: tally.Record})
	return ln.Addr().String(), &tally
}

// sourceServer writes size bytes on every connection, then closes it.
func sourceServer(b *testing.B, size func() int64) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	buf := make([]byte, 1<<20)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for left := size(); left > 0; {
					n, err := c.Write(buf[:min(left, int64(len(buf)))])
					if err != nil {
						return
					}
					left -= int64(n)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// drain reads c to EOF with a large buffer and returns the byte count.
func drain(c net.Conn, buf []byte) int64 {
	var total int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if err != nil {
			return total
		}
	}
}

// dialTunnel opens a CONNECT tunnel through the proxy.
func dialTunnel(tb testing.TB, proxyAddr, target string) net.Conn {
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		tb.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	return &bufConn{c, br} // the server may have spoken already
}

// BenchmarkTransfer moves b.N MiB over direct loopback and b.N MiB
// through a CONNECT tunnel in the same run, interleaved in 8 rounds so
// that other load on the machine hits both alike, and reports both rates
// and their ratio. -benchtime=1024x moves 1 GiB each way. The "splice"
// case is what the proxy does; "buffer" forces a 1 MiB user-space copy;
// "bare-relay" is no proxy at all, just two io.Copy calls between the
// sockets: the ceiling of any relay on this machine.
func BenchmarkTransfer(b *testing.B) {
	b.Run("splice", func(b *testing.B) { benchTransfer(b, tunnelVia) })
	b.Run("buffer", func(b *testing.B) {
		old := relayCopy
		relayCopy = func(dst io.Writer, src io.Reader) (int64, error) {
			// Hide ReaderFrom/WriterTo so the buffer is used.
			return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 1<<20))
		}
		defer func() { relayCopy = old }()
		benchTransfer(b, tunnelVia)
	})
	b.Run("bare-relay", func(b *testing.B) { benchTransfer(b, bareRelay) })
}

// tunnelVia returns a dial function through a CONNECT tunnel of a proxy.
func tunnelVia(b *testing.B, src string) func() net.Conn {
	_, port, _ := net.SplitHostPort(src)
	proxyAddr, _ := benchProxy(b, port)
	return func() net.Conn { return dialTunnel(b, proxyAddr, "bench.test:"+port) }
}

// bareRelay returns a dial function through a relay that only copies.
func bareRelay(b *testing.B, src string) func() net.Conn {
	ln := mustListen(b)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", src)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
}

func benchTransfer(b *testing.B, via func(*testing.B, string) func() net.Conn) {
	const rounds = 8
	var size atomic.Int64
	src := sourceServer(b, size.Load)
	dialProxied := via(b, src)
	buf := make([]byte, 1<<20)
	total := int64(b.N) << 20
	b.SetBytes(2 << 20) // each iteration moves 1 MiB directly and 1 MiB proxied
	b.ResetTimer()

	var direct, proxied time.Duration
	for r := range rounds {
		part := total / rounds
		if r == rounds-1 {
			part = total - part*(rounds-1)
		}
		size.Store(part)
		for i := range 2 {
			viaProxy := (r+i)%2 == 1 // alternate which goes first
			start := time.Now()
			var c net.Conn
			if viaProxy {
				c = dialProxied()
			} else {
				var err error
				if c, err = net.Dial("tcp", src); err != nil {
					b.Fatal(err)
				}
			}
			if n := drain(c, buf); n != part {
				b.Fatalf("proxy %v: %d of %d bytes", viaProxy, n, part)
			}
			c.Close()
			if viaProxy {
				proxied += time.Since(start)
			} else {
				direct += time.Since(start)
			}
		}
	}
	b.StopTimer()
	mib := float64(total) / (1 << 20)
	b.ReportMetric(mib/direct.Seconds(), "direct-MiB/s")
	b.ReportMetric(mib/proxied.Seconds(), "proxy-MiB/s")
	b.ReportMetric(direct.Seconds()/proxied.Seconds(), "throughput-ratio")
}

// BenchmarkSetup opens b.N connections directly and b.N through the
// proxy (CONNECT, guard, dial, one byte each way), in the same run, and
// reports the time of each and the ratio.
func BenchmarkSetup(b *testing.B) {
	echo := startEcho(b)
	_, port, _ := net.SplitHostPort(echo)
	proxyAddr, tally := benchProxy(b, port)
	one := make([]byte, 1)
	ping := func(c net.Conn) {
		if _, err := c.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		c, err := net.Dial("tcp", echo)
		if err != nil {
			b.Fatal(err)
		}
		ping(c)
	}
	direct := time.Since(start)
	start = time.Now()
	for range b.N {
		ping(dialTunnel(b, proxyAddr, "bench.test:"+port))
	}
	proxied := time.Since(start)
	b.StopTimer()
	// Every tunnel is audited once it ends; the last may still be ending.
	for deadline := time.Now().Add(5 * time.Second); tally.Snapshot().Allowed < b.N && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if s := tally.Take(); s.Allowed != b.N || s.Refused != 0 || s.BytesUp != int64(b.N) || s.BytesDown != int64(b.N) {
		b.Errorf("audit of %d tunnels: %+v", b.N, s)
	}
	n := float64(b.N)
	b.ReportMetric(float64(direct.Microseconds())/n, "direct-µs/conn")
	b.ReportMetric(float64(proxied.Microseconds())/n, "proxy-µs/conn")
	b.ReportMetric(float64(proxied-direct)/float64(time.Microsecond)/n, "extra-µs/conn")
	b.ReportMetric(proxied.Seconds()/direct.Seconds(), "setup-ratio")
}
