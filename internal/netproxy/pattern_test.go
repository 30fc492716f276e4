package netproxy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePatternInvalid(t *testing.T) {
	for _, s := range []string{
		"", " ", "exa mple.com", "a\x00b", "*", "*.", "*example.com", "a.*.example.com", "**.example.com",
		"*.*.example.com", "example.com:", "example.com:0", "example.com:65536", "example.com:+80",
		"example.com:080", "example.com:http", ":443", "[::1", "[::1]x", "[example.com]:443",
		"10.0.0.1/8", "10.0.0.0/33", "example.com/8", "fe80::1%eth0", "a..b", ".example.com",
		"example.com..", strings.Repeat("a", 64) + ".com", "ex_ample!.com", "1.2.3", "*.10.0.0.1",
		"http://example.com", "a:b:c:d",
	} {
		_, err := ParsePattern(s)
		if err == nil {
			t.Errorf("ParsePattern(%q) succeeded, want an error", s)
			continue
		}
		var pe *PatternError
		if !errors.Is(err, ErrInvalidPattern) || !errors.As(err, &pe) || pe.Pattern != s {
			t.Errorf("ParsePattern(%q) error %v is not a *PatternError for it", s, err)
		}
	}
}

func TestParseListJoinsErrors(t *testing.T) {
	_, err := ParseList([]string{"ok.test", "*", "bad:0"})
	if !errors.Is(err, ErrInvalidPattern) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), `"*"`) || !strings.Contains(err.Error(), `"bad:0"`) {
		t.Errorf("error does not name both bad entries: %v", err)
	}
	l, err := ParseList(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Allows("ok.test", 443); ok {
		t.Error("an empty list admitted a host")
	}
	var nilList *List
	if _, ok := nilList.Allows("ok.test", 443); ok {
		t.Error("a nil list admitted a host")
	}
}

func TestListAllows(t *testing.T) {
	type probe struct {
		host string
		port int
		want bool
	}
	cases := []struct {
		entry  string
		probes []probe
	}{
		{"example.test", []probe{
			{"example.test", 443, true}, {"example.test", 80, true}, {"EXAMPLE.Test.", 443, true},
			{"example.test", 22, false}, {"a.example.test", 443, false}, {"badexample.test", 443, false},
			{"example.test.evil", 443, false},
		}},
		{"*.example.test", []probe{
			{"a.example.test", 443, true}, {"A.B.Example.TEST.", 80, true},
			{"example.test", 443, false}, {"badexample.test", 443, false}, {"a.badexample.test", 443, false},
			{".example.test", 443, false}, {"a.example.test", 8443, false},
		}},
		{"example.test:8443", []probe{{"example.test", 8443, true}, {"example.test", 443, false}}},
		{"example.test:*", []probe{{"example.test", 1, true}, {"example.test", 65535, true}}},
		{"bücher.test", []probe{
			{"bücher.test", 443, true}, {"xn--bcher-kva.test", 443, true}, {"BÜCHER.test", 443, true},
			{"bucher.test", 443, false},
		}},
		{"*.xn--bcher-kva.test", []probe{{"shop.bücher.test", 443, true}}},
		{"ｅｘａｍｐｌｅ.test", []probe{{"example.test", 443, true}}}, // full-width folds to ASCII
		{"_svc.example.test", []probe{{"_svc.example.test", 443, true}}},
		{"203.0.113.7", []probe{
			{"203.0.113.7", 443, true}, {"::ffff:203.0.113.7", 443, true}, {"[::ffff:203.0.113.7]", 80, true},
			{"203.0.113.8", 443, false}, {"203.0.113.7", 22, false},
		}},
		{"203.0.113.7:22", []probe{{"203.0.113.7", 22, true}, {"203.0.113.7", 443, false}}},
		{"::ffff:203.0.113.7", []probe{{"203.0.113.7", 443, true}}},
		{"2001:db8::1", []probe{{"2001:db8::1", 443, true}, {"[2001:DB8::1]", 443, true}, {"2001:db8::2", 443, false}}},
		{"[2001:db8::1]:22", []probe{{"2001:db8::1", 22, true}, {"2001:db8::1", 443, false}}},
		{"[2001:db8::1]", []probe{{"2001:db8::1", 80, true}}},
		{"10.0.0.0/8", []probe{{"10.1.2.3", 443, true}, {"11.0.0.1", 443, false}}},
		{"10.0.0.0/8:5432", []probe{{"10.1.2.3", 5432, true}, {"10.1.2.3", 443, false}}},
		{"[2001:db8::/32]:*", []probe{{"2001:db8:1::5", 9, true}, {"2001:db9::1", 9, false}}},
		{"::ffff:10.0.0.0/104", []probe{{"10.9.9.9", 443, true}}},
	}
	for _, c := range cases {
		l, err := ParseList([]string{c.entry})
		if err != nil {
			t.Errorf("ParseList(%q): %v", c.entry, err)
			continue
		}
		for _, p := range c.probes {
			by, ok := l.Allows(p.host, p.port)
			if ok != p.want {
				t.Errorf("%q admits %s port %d = %v, want %v", c.entry, p.host, p.port, ok, p.want)
			}
			if ok && by.String() != c.entry {
				t.Errorf("%q: match reported as %q", c.entry, by)
			}
		}
	}
}

func TestNamesAreNotAddresses(t *testing.T) {
	l := MustParseList("example.test:*", "203.0.113.0/24:*")
	if _, ok := l.Allows("203.0.113.9", 443); !ok {
		t.Error("address entry does not admit its address")
	}
	if _, ok := l.Allows("198.51.100.1", 443); ok {
		t.Error("a name entry admitted an unlisted address")
	}
	if _, ok := l.Allows("other.test", 443); ok {
		t.Error("an address entry admitted a name")
	}
	p := l.Patterns()
	if p[0].IsAddress() || !p[1].IsAddress() {
		t.Errorf("IsAddress: %v %v", p[0].IsAddress(), p[1].IsAddress())
	}
	if pfx, ok := p[1].Prefix(); !ok || pfx != netip.MustParsePrefix("203.0.113.0/24") {
		t.Errorf("Prefix() = %v %v", pfx, ok)
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.TEST.":        "example.test",
		"bücher.test":          "xn--bcher-kva.test",
		"[::1]":                "::1",
		"::FFFF:127.0.0.1":     "127.0.0.1",
		"XN--BCHER-KVA.test":   "xn--bcher-kva.test",
		"a-b_c.example.test":   "a-b_c.example.test",
		"例え.テスト":               "xn--r8jz45g.xn--zckzah",
		"faß.test":             "xn--fa-hia.test", // non-transitional: ß is kept
		"ＥＸＡＭＰＬＥ。test":         "example.test",
		"localhost":            "localhost",
		"exa\u200bmple.test":   "example.test", // UTS 46 drops zero-width spaces, as resolvers do
		"203.000.113.7.test":   "203.000.113.7.test",
		"2001:db8::1":          "2001:db8::1",
		"[2001:db8:0:0::1]":    "2001:db8::1",
		"0:0:0:0:0:ffff:a00:1": "10.0.0.1",
	} {
		got, err := NormalizeHost(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "a..b", "a b", "a/b", "1.2.3", "010.0.0.1", "fe80::1%eth0", "-", "a@b"} {
		if got, err := NormalizeHost(in); err == nil {
			t.Errorf("NormalizeHost(%q) = %q, want an error", in, got)
		}
	}
}

// FuzzParsePattern checks that parsing never panics, that a parsed entry
// re-parses to the same matcher from its String form, and that matching
// any host against it never panics.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"example.com", "*.example.com:8443", "[::1]:22", "10.0.0.0/8", "bücher.test:*", "*", "a:b:c", "[fd00::/8]:*"} {
		f.Add(s, "a.example.com", 443)
	}
	f.Fuzz(func(t *testing.T, entry, host string, port int) {
		p, err := ParsePattern(entry)
		if err != nil {
			if !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("error %v does not wrap ErrInvalidPattern", err)
			}
			return
		}
		q, err := ParsePattern(p.String())
		if err != nil || q.kind != p.kind || q.name != p.name || q.prefix != p.prefix || q.port != p.port {
			t.Fatalf("re-parse of %q: %+v, %v; was %+v", entry, q, err, p)
		}
		l := &List{patterns: []Pattern{p}}
		if _, ok := l.Allows(host, port); ok {
			// Whatever matched must be a host that normalises.
			if _, err := NormalizeHost(host); err != nil {
				t.Fatalf("%q admitted unnormalisable host %q", entry, host)
			}
			if p.kind == kindWildcard {
				n, _ := NormalizeHost(host)
				if !strings.HasSuffix(n, "."+p.name) {
					t.Fatalf("wildcard %q admitted %q", entry, host)
				}
			}
		}
	})
}
