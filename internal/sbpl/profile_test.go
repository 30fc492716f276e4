package sbpl

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/profile.golden")

// readSBPLString reads one string literal at the start of s the way
// TinyScheme's readstrexp does (the reader behind SBPL): backslash escapes
// \n \t \r \" \xHH and octal, any other escaped character stands for itself,
// and an unescaped " ends the string. It returns the value and the rest of
// s, or ok=false when s is not a complete literal.
func readSBPLString(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			i++
			if i >= len(s) {
				return "", s, false
			}
			switch e := s[i]; {
			case e == 'n':
				b.WriteByte('\n')
			case e == 't':
				b.WriteByte('\t')
			case e == 'r':
				b.WriteByte('\r')
			case e == 'x' || e == 'X':
				if i+2 >= len(s) {
					return "", s, false
				}
				var v byte
				for _, h := range []byte{s[i+1], s[i+2]} {
					switch {
					case h >= '0' && h <= '9':
						v = v<<4 | (h - '0')
					case h >= 'a' && h <= 'f':
						v = v<<4 | (h - 'a' + 10)
					case h >= 'A' && h <= 'F':
						v = v<<4 | (h - 'A' + 10)
					default:
						return "", s, false
					}
				}
				b.WriteByte(v)
				i += 2
			case e >= '0' && e <= '7':
				v := e - '0'
				for n := 0; n < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; n++ {
					i++
					v = v<<3 | (s[i] - '0')
				}
				b.WriteByte(v)
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", s, false
}

// checkNoBareQuoteOrBackslash reports the first quote or backslash inside a
// quoted literal q (quotes included) that our escaping did not produce: every
// backslash must be followed by a backslash or a quote, every inner quote
// must be preceded by an escaping backslash.
func checkNoBareQuoteOrBackslash(q string) error {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return errors.New("not enclosed in quotes")
	}
	in := q[1 : len(q)-1]
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\\':
			if i+1 >= len(in) || (in[i+1] != '\\' && in[i+1] != '"') {
				return fmt.Errorf("bare backslash at offset %d", i)
			}
			i++
		case '"':
			return errors.New("unescaped quote")
		}
	}
	return nil
}

func TestQuote(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/Users/me/work", `"/Users/me/work"`},
		{`/a"b`, `"/a\"b"`},
		{`/a\b`, `"/a\\b"`},
		{`/a\"b`, `"/a\\\"b"`},
		{`/x")) (allow default) ;`, `"/x\")) (allow default) ;"`},
		{"/tab\there\nnewline", "\"/tab\there\nnewline\""},
		{"/ünï/código", `"/ünï/código"`},
		{"", `""`},
	}
	for _, c := range cases {
		got, err := Quote(c.in)
		if err != nil || got != c.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"/a\x00b", "/a\xffb", "\xc3"} {
		if q, err := Quote(bad); err == nil {
			t.Errorf("Quote(%q) = %q, want an error", bad, q)
		}
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"/usr", `/a"b`, `/a\b`, `\"`, `"\`, "/x\n(allow default)", "\x00", "\xff", `\x41`, `\101`, "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Quote(s)
		wantErr := strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
		if wantErr {
			if err == nil {
				t.Fatalf("Quote(%q) accepted a string it cannot quote: %q", s, q)
			}
			return
		}
		if err != nil {
			t.Fatalf("Quote(%q): %v", s, err)
		}
		if err := checkNoBareQuoteOrBackslash(q); err != nil {
			t.Fatalf("Quote(%q) = %q: %v", s, q, err)
		}
		// Read it back inside a rule, as the profile carries it: the
		// literal must end exactly where the quoter ended it.
		got, rest, ok := readSBPLString(q + ")")
		if !ok || got != s || rest != ")" {
			t.Fatalf("Quote(%q) = %q reads back as %q (rest %q, ok %v)", s, q, got, rest, ok)
		}
	})
}

// testPolicy is a representative session policy, with the paths already
// resolved as the darwin adapter resolves them, and hostile names.
func testPolicy() Policy {
	return Policy{
		Paths: []Rule{
			{Path: "/Users/dev/sessions/s1", Access: Read | Write},
			{Path: "/Users/dev/sessions/s1/bin", Access: Read | Execute},
			{Path: "/Users/dev/project", Access: Read},
			{Path: "/Users/dev/project", Access: Read | Execute}, // merged with the line above
			{Path: `/Users/dev/we"ird\dir")) (allow default`, Access: Read | Write},
			{Path: "/Users/dev/write-only", Access: Write},
		},
		DenyNetwork: true,
		UnixSockets: []string{"/private/var/run/agent.sock"},
		TempDir:     "/private/var/folders/xy/T/s1-tmp",
	}
}

func TestProfileGolden(t *testing.T) {
	got, err := Profile(testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "profile.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("profile differs from %s (run with -update after checking the change):\n%s", golden, got)
	}
	// The hostile path must not have opened a rule of its own.
	if strings.Contains(got, "\n(allow default") {
		t.Error("a path name injected a rule")
	}
}

func TestProfileBalanced(t *testing.T) {
	for _, deny := range []bool{true, false} {
		p := testPolicy()
		p.DenyNetwork = deny
		prof, err := Profile(p)
		if err != nil {
			t.Fatal(err)
		}
		// Walk the profile as the reader does: strings, comments, parens.
		depth := 0
		for s := prof; s != ""; {
			switch s[0] {
			case '"':
				_, rest, ok := readSBPLString(s)
				if !ok {
					t.Fatalf("deny network %v: unterminated string at %q", deny, s)
				}
				s = rest
				continue
			case ';':
				if i := strings.IndexByte(s, '\n'); i >= 0 {
					s = s[i:]
				} else {
					s = ""
				}
				continue
			case '(':
				depth++
			case ')':
				depth--
				if depth < 0 {
					t.Fatalf("deny network %v: unbalanced ')'", deny)
				}
			}
			s = s[1:]
		}
		if depth != 0 {
			t.Fatalf("deny network %v: %d unclosed '('", deny, depth)
		}
	}
}

func TestProfileNetwork(t *testing.T) {
	p := testPolicy()
	p.DenyNetwork = false
	prof, err := Profile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prof, "(allow network*)") {
		t.Error("unrestricted network: no (allow network*) rule")
	}
	p.DenyNetwork = true
	prof, _ = Profile(p)
	if strings.Contains(prof, "(allow network*)") || strings.Contains(prof, "system-socket") {
		t.Error("deny-all network: profile allows the network")
	}
}

func TestProfileRefusesUnresolvedPaths(t *testing.T) {
	for _, bad := range []string{"/tmp/x", "/var/folders/x", "/etc", "relative/dir", "/ok/\x00nul", "/ok/\xff"} {
		p := Policy{Paths: []Rule{{Path: bad, Access: Read}}, DenyNetwork: true}
		if _, err := Profile(p); err == nil {
			t.Errorf("path %q: profile built, want an error", bad)
		}
	}
	p := Policy{DenyNetwork: true, TempDir: "/tmp/s1"}
	if _, err := Profile(p); err == nil {
		t.Error("TempDir /tmp/s1: profile built, want an error")
	}
	p = Policy{DenyNetwork: true, UnixSockets: []string{"/var/run/x.sock"}}
	if _, err := Profile(p); err == nil {
		t.Error("unix socket /var/run/x.sock: profile built, want an error")
	}
}
