package proxyproto

import (
	"net"
	"strings"
	"testing"
)

func TestParseTrusted(t *testing.T) {
	tr, err := ParseTrusted(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,,172.16.5.9/12, ::ffff:100.64.0.0/106")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tr.String(), "10.0.0.0/8,192.168.1.7/32,fd00::/8,172.16.0.0/12,100.64.0.0/10"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	cases := []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 5}, true},
		{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3).To4(), Port: 5}, true},
		{&net.TCPAddr{IP: net.ParseIP("11.0.0.1"), Port: 5}, false},
		{&net.TCPAddr{IP: net.ParseIP("192.168.1.7"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("192.168.1.8"), Port: 1}, false},
		{&net.TCPAddr{IP: net.ParseIP("172.31.255.255")}, true},
		{&net.TCPAddr{IP: net.ParseIP("172.32.0.0")}, false},
		{&net.TCPAddr{IP: net.ParseIP("100.127.0.1")}, true},
		{&net.TCPAddr{IP: net.ParseIP("fd12::1"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1}, false},
		{&net.UDPAddr{IP: net.ParseIP("10.0.0.1")}, true},
		{&net.IPAddr{IP: net.ParseIP("10.0.0.1")}, true},
		{stringAddr("10.9.9.9:1883"), true},
		{stringAddr("[fd00::5]:1883"), true},
		{stringAddr("10.9.9.9"), true},
		{stringAddr("pipe"), false},
		{&net.TCPAddr{}, false},
		{nil, false},
	}
	for _, c := range cases {
		if got := tr.Contains(c.addr); got != c.want {
			t.Errorf("Contains(%v) = %v, want %v", c.addr, got, c.want)
		}
	}
	var none *Trusted
	if none.Contains(&net.TCPAddr{IP: net.ParseIP("10.0.0.1")}) {
		t.Error("nil Trusted contains an address")
	}
}

func TestParseTrustedAll(t *testing.T) {
	tr, err := ParseTrusted("0.0.0.0/0,::/0")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"1.2.3.4", "255.255.255.255", "2001:db8::1", "::1"} {
		if !tr.Contains(&net.TCPAddr{IP: net.ParseIP(s)}) {
			t.Errorf("0.0.0.0/0,::/0 does not contain %s", s)
		}
	}
}

func TestParseTrustedErrors(t *testing.T) {
	for _, in := range []string{"", " , ", "nope", "10.0.0.0/33", "10.0.0.0/", "fe80::1%eth0", "1.2.3.4.5/8"} {
		tr, err := ParseTrusted(in)
		if err == nil {
			t.Errorf("ParseTrusted(%q) = %v, want an error", in, tr)
			continue
		}
		if !strings.HasPrefix(err.Error(), "proxyproto: ") {
			t.Errorf("ParseTrusted(%q) error %q lacks the package prefix", in, err)
		}
	}
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
