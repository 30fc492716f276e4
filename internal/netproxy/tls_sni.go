package netproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

const (
	tlsRecordHandshake   = 0x16
	tlsClientHello       = 0x01
	tlsExtServerName     = 0x0000
	tlsServerNameHost    = 0x00
	maxClientHelloBytes  = 64 << 10 // far above real ClientHellos (a few KiB with post-quantum key shares)
	tlsRecordHeaderBytes = 5
)

// readClientHello reads the TLS records that carry a ClientHello from r
// and returns them as read (to be forwarded unchanged) with the server
// name they ask for ("" when there is none). A ClientHello may span
// several records; at most maxClientHelloBytes are buffered.
func readClientHello(r *bufio.Reader) (raw []byte, sni string, err error) {
	var msg []byte // the handshake message, reassembled from records
	for {
		var hdr [tlsRecordHeaderBytes]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, "", fmt.Errorf("record header: %w", err)
		}
		if hdr[0] != tlsRecordHandshake {
			return nil, "", fmt.Errorf("record type %d before the ClientHello was complete", hdr[0])
		}
		if hdr[1] != 3 {
			return nil, "", fmt.Errorf("record version %d.%d is not TLS", hdr[1], hdr[2])
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 || n > 1<<14+2048 {
			return nil, "", fmt.Errorf("record length %d out of range", n)
		}
		if len(raw)+tlsRecordHeaderBytes+n > maxClientHelloBytes {
			return nil, "", errors.New("ClientHello larger than 64 KiB")
		}
		raw = append(raw, hdr[:]...)
		start := len(raw)
		raw = append(raw, make([]byte, n)...)
		if _, err := io.ReadFull(r, raw[start:]); err != nil {
			return nil, "", fmt.Errorf("record body: %w", err)
		}
		msg = append(msg, raw[start:]...)
		if len(msg) < 4 {
			continue
		}
		if msg[0] != tlsClientHello {
			return nil, "", fmt.Errorf("handshake message type %d is not a ClientHello", msg[0])
		}
		want := 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
		if want > maxClientHelloBytes {
			return nil, "", errors.New("ClientHello larger than 64 KiB")
		}
		if len(msg) >= want {
			sni, err := parseClientHelloSNI(msg[4:want])
			return raw, sni, err
		}
	}
}

// errMalformed is a ClientHello that ends early or holds lengths that
// do not add up.
var errMalformed = errors.New("malformed ClientHello")

// helloReader walks a ClientHello body (RFC 8446 section 4.1.2).
type helloReader struct{ b []byte }

func (h *helloReader) skip(n int) bool {
	if n > len(h.b) {
		return false
	}
	h.b = h.b[n:]
	return true
}

func (h *helloReader) u8() (int, bool) {
	if len(h.b) < 1 {
		return 0, false
	}
	v := int(h.b[0])
	h.b = h.b[1:]
	return v, true
}

func (h *helloReader) u16() (int, bool) {
	if len(h.b) < 2 {
		return 0, false
	}
	v := int(h.b[0])<<8 | int(h.b[1])
	h.b = h.b[2:]
	return v, true
}

// vec returns the next vector with a length prefix of 1 or 2 bytes.
func (h *helloReader) vec(lenBytes int) (helloReader, bool) {
	var n int
	var ok bool
	if lenBytes == 1 {
		n, ok = h.u8()
	} else {
		n, ok = h.u16()
	}
	if !ok || n > len(h.b) {
		return helloReader{}, false
	}
	v := helloReader{h.b[:n]}
	h.b = h.b[n:]
	return v, true
}

// parseClientHelloSNI returns the host_name of the server_name extension,
// or "" when the ClientHello has none.
func parseClientHelloSNI(body []byte) (string, error) {
	h := helloReader{body}
	if !h.skip(2 + 32) { // legacy_version, random
		return "", errMalformed
	}
	if _, ok := h.vec(1); !ok { // legacy_session_id
		return "", errMalformed
	}
	if _, ok := h.vec(2); !ok { // cipher_suites
		return "", errMalformed
	}
	if _, ok := h.vec(1); !ok { // legacy_compression_methods
		return "", errMalformed
	}
	if len(h.b) == 0 {
		return "", nil // no extensions at all (SSL 3.0 style)
	}
	exts, ok := h.vec(2)
	if !ok {
		return "", errMalformed
	}
	sni, seen := "", false
	for len(exts.b) > 0 {
		typ, ok := exts.u16()
		if !ok {
			return "", errMalformed
		}
		data, ok := exts.vec(2)
		if !ok {
			return "", errMalformed
		}
		if typ != tlsExtServerName {
			continue
		}
		if seen {
			// Two server_name extensions: a server could read either one.
			return "", errors.New("ClientHello has two server_name extensions")
		}
		seen = true
		list, ok := data.vec(2)
		if !ok || len(data.b) != 0 {
			return "", errMalformed
		}
		for len(list.b) > 0 {
			nameType, ok := list.u8()
			if !ok {
				return "", errMalformed
			}
			name, ok := list.vec(2)
			if !ok {
				return "", errMalformed
			}
			if nameType != tlsServerNameHost {
				continue
			}
			if sni != "" {
				return "", errors.New("ClientHello names two hosts")
			}
			if len(name.b) == 0 {
				return "", errMalformed
			}
			sni = string(name.b)
		}
	}
	return sni, nil
}
