package netproxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// captureClientHello returns the bytes crypto/tls sends first for a
// handshake naming sni ("" sends no server name).
func captureClientHello(t testing.TB, sni string) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		c := tls.Client(client, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Handshake()
		client.Close()
	}()
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [5]byte
	if _, err := server.Read(hdr[:]); err != nil {
		t.Fatal(err)
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	body := make([]byte, n)
	for got := 0; got < n; {
		k, err := server.Read(body[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += k
	}
	return append(hdr[:], body...)
}

func TestReadClientHello(t *testing.T) {
	for _, sni := range []string{"allowed.test", "xn--bcher-kva.test", ""} {
		hello := captureClientHello(t, sni)
		raw, got, err := readClientHello(bufio.NewReader(bytes.NewReader(append(hello, "rest"...))))
		if err != nil || got != sni || !bytes.Equal(raw, hello) {
			t.Errorf("sni %q: got %q, %v, raw equal %v", sni, got, err, bytes.Equal(raw, hello))
		}
	}
	// The same handshake message split over three records.
	hello := captureClientHello(t, "allowed.test")
	msg := hello[5:]
	var split []byte
	for _, part := range [][]byte{msg[:3], msg[3:40], msg[40:]} {
		split = append(split, 0x16, 3, 1, byte(len(part)>>8), byte(len(part)))
		split = append(split, part...)
	}
	raw, got, err := readClientHello(bufio.NewReader(bytes.NewReader(split)))
	if err != nil || got != "allowed.test" || !bytes.Equal(raw, split) {
		t.Errorf("split: %q %v", got, err)
	}
}

func TestReadClientHelloRejects(t *testing.T) {
	hello := captureClientHello(t, "allowed.test")
	cases := map[string][]byte{
		"truncated":      hello[:len(hello)-10],
		"not handshake":  append([]byte{0x17}, hello[1:]...),
		"not TLS":        append([]byte{0x16, 2, 0}, hello[3:]...),
		"server hello":   append(append([]byte{}, hello[:5]...), append([]byte{2}, hello[6:]...)...),
		"empty record":   {0x16, 3, 1, 0, 0},
		"huge message":   {0x16, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff},
		"bad ext length": corrupt(hello, "allowed.test", 0x7f),
	}
	for name, b := range cases {
		if _, sni, err := readClientHello(bufio.NewReader(bytes.NewReader(b))); err == nil {
			t.Errorf("%s: accepted, sni %q", name, sni)
		}
	}
	// Endless small records must stop at the bound, not grow forever.
	var endless bytes.Buffer
	endless.Write([]byte{0x16, 3, 1, 0, 4, 1, 0x01, 0, 0}) // announces a 64 KiB message
	for endless.Len() < 200<<10 {
		endless.Write([]byte{0x16, 3, 1, 0, 1, 0})
	}
	if _, _, err := readClientHello(bufio.NewReader(&endless)); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("endless records: %v", err)
	}
}

// corrupt overwrites the byte just before the server name's length
// prefix chain, breaking the extension's inner lengths.
func corrupt(hello []byte, sni string, v byte) []byte {
	b := append([]byte(nil), hello...)
	i := bytes.Index(b, []byte(sni))
	b[i-4] = v // high byte of the server_name_list length
	return b
}

// FuzzClientHello: the parser never panics, never buffers past its bound,
// and what it returns is the prefix of its input.
func FuzzClientHello(f *testing.F) {
	f.Add(captureClientHello(f, "allowed.test"))
	f.Add(captureClientHello(f, ""))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, sni, err := readClientHello(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if len(raw) > maxClientHelloBytes || !bytes.HasPrefix(b, raw) {
			t.Fatalf("raw of %d bytes is not a bounded prefix", len(raw))
		}
		_ = sni
	})
}
