package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// maxSourceAddrs bounds how many source addresses one -ifaddr may expand to.
const maxSourceAddrs = 1 << 16

// parseAddrRanges expands a source-address list such as
// "127.0.0.2-127.0.0.250", "127.0.0.2-250", "127.0.0.2,127.0.0.3" or "::1"
// into the individual addresses, in order. An empty string yields none (let
// the kernel choose). Ranges are inclusive and may not mix address families.
func parseAddrRanges(s string) ([]netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := netip.ParseAddr(lo)
		if err != nil {
			return nil, fmt.Errorf("cp7bench: source address %q is not an IP address; write it like 127.0.0.2 or 127.0.0.2-127.0.0.250", lo)
		}
		last := first
		if isRange {
			last, err = parseRangeEnd(first, hi)
			if err != nil {
				return nil, err
			}
		}
		if last.Less(first) {
			return nil, fmt.Errorf("cp7bench: source range %q ends before it starts; put the lower address first", part)
		}
		for a := first; ; a = a.Next() {
			if len(out) >= maxSourceAddrs {
				return nil, fmt.Errorf("cp7bench: source addresses %q expand to more than %d addresses; use a shorter range", s, maxSourceAddrs)
			}
			out = append(out, a)
			if a == last {
				break
			}
		}
	}
	return out, nil
}

// parseRangeEnd reads the end of a range: a full address, or for IPv4 just
// the last octet ("127.0.0.2-250").
func parseRangeEnd(first netip.Addr, hi string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(hi); err == nil {
		if a.Is4() != first.Is4() {
			return netip.Addr{}, fmt.Errorf("cp7bench: source range %s-%s mixes IPv4 and IPv6; use one family per range", first, hi)
		}
		return a, nil
	}
	var octet int
	if first.Is4() {
		if _, err := fmt.Sscanf(hi, "%d", &octet); err == nil && octet >= 0 && octet <= 255 && fmt.Sprint(octet) == hi {
			b := first.As4()
			b[3] = byte(octet)
			return netip.AddrFrom4(b), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("cp7bench: source range end %q is neither an address nor a last octet; write 127.0.0.2-127.0.0.250 or 127.0.0.2-250", hi)
}

// sourceFor returns the source address of the client with global index i:
// round robin over addrs, so consecutive clients use consecutive addresses and
// each address carries at most ceil(clients/len(addrs)) connections.
func sourceFor(addrs []netip.Addr, i int) (netip.Addr, bool) {
	if len(addrs) == 0 {
		return netip.Addr{}, false
	}
	return addrs[i%len(addrs)], true
}

// dialers holds one net.Dialer per source address (not one per client).
type dialers struct {
	list []*net.Dialer
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h: bind() of
// an address with port 0 then reserves no port, and connect() picks one that
// is unique per 4-tuple, so each source address reaches the whole ephemeral
// range towards each destination.
const ipBindAddressNoPort = 24

func newDialers(addrs []netip.Addr, timeout time.Duration) dialers {
	if len(addrs) == 0 {
		return dialers{list: []*net.Dialer{{Timeout: timeout}}}
	}
	d := dialers{list: make([]*net.Dialer, len(addrs))}
	for i, a := range addrs {
		d.list[i] = &net.Dialer{
			Timeout:   timeout,
			LocalAddr: &net.TCPAddr{IP: a.AsSlice()},
			Control: func(network, address string, c syscall.RawConn) error {
				if a.Is6() {
					return nil
				}
				var serr error
				err := c.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
				})
				if err != nil {
					return err
				}
				if errors.Is(serr, syscall.ENOPROTOOPT) {
					return nil // older kernel: the bind still works, with fewer ports
				}
				return serr
			},
		}
	}
	return d
}

// forClient returns the dialer of global client index i (round robin).
func (d dialers) forClient(i int) *net.Dialer { return d.list[i%len(d.list)] }
