package netproxy

import (
	"errors"
	"net/netip"
	"testing"
)

func TestBlocked(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.9.9.9",
		"169.254.169.254", "169.254.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "192.0.0.170",
		"198.18.0.1", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
		"::", "::1", "fe80::1", "febf::1", "fc00::1", "fd00:ec2::254", "fec0::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
		"fe80::1%eth0",
	} {
		if _, _, blocked := Blocked(netip.MustParseAddr(s)); !blocked {
			t.Errorf("Blocked(%s) = false", s)
		}
	}
	for _, s := range []string{
		"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"192.167.255.255", "192.169.0.0", "203.0.113.7", "2001:db8::1", "2606:4700::1111", "::ffff:8.8.8.8",
		"64:ff9b::808:808",
	} {
		if block, _, blocked := Blocked(netip.MustParseAddr(s)); blocked {
			t.Errorf("Blocked(%s) = true (%s)", s, block)
		}
	}
}

func TestGuardNamedAddresses(t *testing.T) {
	cases := []struct {
		list  []string
		addr  string
		port  int
		admit bool
	}{
		{nil, "203.0.113.7", 443, true}, // public addresses need no naming
		{nil, "169.254.169.254", 80, false},
		{[]string{"*.example.test:*"}, "10.0.0.1", 443, false}, // a name entry never names an address
		{[]string{"10.0.0.1"}, "10.0.0.1", 443, true},
		{[]string{"10.0.0.1"}, "10.0.0.1", 22, false}, // the entry's ports apply
		{[]string{"10.0.0.1:*"}, "10.0.0.1", 22, true},
		{[]string{"10.0.0.1"}, "10.0.0.2", 443, false},
		{[]string{"10.0.0.0/8"}, "10.200.0.1", 443, true},
		{[]string{"10.0.0.1"}, "::ffff:10.0.0.1", 443, true},
		{[]string{"::ffff:10.0.0.1"}, "10.0.0.1", 443, true},
		{[]string{"10.0.0.1"}, "64:ff9b::a00:1", 443, true},
		{[]string{"169.254.169.254"}, "169.254.169.254", 80, true},
		{[]string{"169.254.0.0/16"}, "169.254.169.254", 80, true},
		// Entries broader than the special block do not name it.
		{[]string{"0.0.0.0/0"}, "169.254.169.254", 80, false},
		{[]string{"0.0.0.0/0"}, "203.0.113.7", 80, true},
		{[]string{"128.0.0.0/1"}, "192.168.1.1", 443, false},
		{[]string{"::/0"}, "::1", 443, false},
		{[]string{"fc00::/7"}, "fd12::1", 443, true},
		{[]string{"127.0.0.1:8080"}, "127.0.0.1", 8080, true},
		{[]string{"127.0.0.1:8080"}, "127.0.0.1", 8081, false},
	}
	for _, c := range cases {
		l := MustParseList(c.list...)
		err := Guard(l, netip.MustParseAddr(c.addr), c.port)
		if (err == nil) != c.admit {
			t.Errorf("Guard(%v, %s:%d) = %v, want admit %v", c.list, c.addr, c.port, err, c.admit)
		}
		var ge *GuardError
		if err != nil && !errors.As(err, &ge) {
			t.Errorf("Guard error %T is not a *GuardError", err)
		}
	}
}
