package sbpl

import "testing"

func TestResolveAlias(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/tmp", "/private/tmp"},
		{"/tmp/", "/private/tmp"},
		{"/tmp/session/x", "/private/tmp/session/x"},
		{"/var/folders/ab/T", "/private/var/folders/ab/T"},
		{"/etc/hosts", "/private/etc/hosts"},
		{"/etc/../tmp/a", "/private/tmp/a"},
		{"/tmpfoo", "/tmpfoo"},
		{"/variable/x", "/variable/x"},
		{"/private/tmp/x", "/private/tmp/x"},
		{"/Users/me/tmp", "/Users/me/tmp"},
		{"/", "/"},
		{"//tmp//a/", "/private/tmp/a"},
	}
	for _, c := range cases {
		if got := ResolveAlias(c.in); got != c.want {
			t.Errorf("ResolveAlias(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
