package main

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseAddrRanges(t *testing.T) {
	cases := []struct {
		in    string
		n     int
		first string
		last  string
	}{
		{"", 0, "", ""},
		{"127.0.0.2", 1, "127.0.0.2", "127.0.0.2"},
		{"127.0.0.2-127.0.0.250", 249, "127.0.0.2", "127.0.0.250"},
		{"127.0.0.2-250", 249, "127.0.0.2", "127.0.0.250"},
		{"127.0.0.250-127.0.1.5", 12, "127.0.0.250", "127.0.1.5"}, // crosses an octet
		{"127.0.0.2, 127.0.0.9,127.0.0.3-4", 4, "127.0.0.2", "127.0.0.4"},
		{"::1", 1, "::1", "::1"},
		{"fd00::1-fd00::3", 3, "fd00::1", "fd00::3"},
	}
	for _, c := range cases {
		got, err := parseAddrRanges(c.in)
		if err != nil {
			t.Errorf("parseAddrRanges(%q): %v", c.in, err)
			continue
		}
		if len(got) != c.n {
			t.Errorf("parseAddrRanges(%q) = %d addresses, want %d", c.in, len(got), c.n)
			continue
		}
		if c.n > 0 && (got[0].String() != c.first || got[c.n-1].String() != c.last) {
			t.Errorf("parseAddrRanges(%q) = %s..%s, want %s..%s", c.in, got[0], got[c.n-1], c.first, c.last)
		}
	}
	for _, bad := range []string{"host", "127.0.0.9-127.0.0.2", "127.0.0.2-300", "127.0.0.2-::1", "127.0.0.2-x", "10.0.0.0-10.255.255.255"} {
		if _, err := parseAddrRanges(bad); err == nil {
			t.Errorf("parseAddrRanges(%q) accepted", bad)
		} else if !strings.HasPrefix(err.Error(), "cp7bench: ") {
			t.Errorf("error without prefix: %v", err)
		}
	}
}

func TestSourceRoundRobin(t *testing.T) {
	addrs, _ := parseAddrRanges("127.0.0.2-127.0.0.4")
	per := map[netip.Addr]int{}
	for i := range 3001 {
		a, ok := sourceFor(addrs, i)
		if !ok {
			t.Fatal("no address")
		}
		if want := addrs[i%3]; a != want {
			t.Fatalf("client %d -> %s, want %s", i, a, want)
		}
		per[a]++
	}
	if per[addrs[0]] != 1001 || per[addrs[1]] != 1000 || per[addrs[2]] != 1000 {
		t.Fatalf("uneven spread %v", per)
	}
	if _, ok := sourceFor(nil, 5); ok {
		t.Fatal("no addresses must mean: let the kernel choose")
	}
}

// The dialers really bind: a listener sees connections from each source
// address in turn.
func TestDialersBindSourceAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addrs, _ := parseAddrRanges("127.0.0.2-127.0.0.4")
	d := newDialers(addrs, 2*time.Second)
	seen := make(chan string, 6)
	go func() {
		for range 6 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	for i := range 6 {
		c, err := d.forClient(i).Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial from %s: %v", addrs[i%3], err)
		}
		if got := c.LocalAddr().(*net.TCPAddr).IP.String(); got != addrs[i%3].String() {
			t.Fatalf("client %d local address %s, want %s", i, got, addrs[i%3])
		}
		select {
		case ip := <-seen:
			if ip != addrs[i%3].String() {
				t.Fatalf("server saw %s, want %s", ip, addrs[i%3])
			}
		case <-time.After(5 * time.Second):
			t.Fatal("listener saw no connection")
		}
		c.Close()
	}
}
