package osconfine

import (
	"slices"
	"strings"
	"testing"
)

func TestPledgeExecPromises(t *testing.T) {
	base := "stdio rpath wpath cpath fattr flock getpw tty proc exec prot_exec error"
	cases := []struct {
		name string
		p    Policy
		want string
	}{
		{"deny-all", Policy{Network: NetworkDenyAll}, base},
		{"deny-all with unix sockets", Policy{Network: NetworkDenyAll, UnixSockets: []string{"/var/run/a.sock"}}, base + " unix"},
		{"unrestricted", Policy{Network: NetworkUnrestricted}, base + " inet dns unix"},
		{"allow-list", Policy{Network: NetworkAllowList, AllowedHosts: []string{"example.org"}}, base + " inet dns"},
	}
	for _, c := range cases {
		got := execPromises(c.p)
		if got != c.want {
			t.Errorf("%s: execPromises = %q, want %q", c.name, got, c.want)
		}
		words := strings.Fields(got)
		if c.p.Network == NetworkDenyAll && (slices.Contains(words, "inet") || slices.Contains(words, "dns")) {
			t.Errorf("%s: deny-all grants the network: %q", c.name, got)
		}
		for _, forbidden := range []string{"id", "settime", "pf", "route", "bpf", "vmm", "chown", "unveil"} {
			if slices.Contains(words, forbidden) {
				t.Errorf("%s: promise %q granted", c.name, forbidden)
			}
		}
	}
}
