package proxyproto

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Trusted is the set of peers (load balancers) allowed to send a PROXY header.
// The specification says a receiver must accept the header only from known
// sources, or any client could spoof its address (§5). A Trusted is immutable
// after ParseTrusted and safe for concurrent use.
type Trusted struct {
	prefixes []netip.Prefix
}

// ParseTrusted parses a comma-separated list of CIDRs or single addresses,
// for example "10.0.0.0/8, 192.168.1.7, fd00::/8". Use "0.0.0.0/0,::/0" to
// trust every peer (only when the port is reachable solely through the load
// balancer).
func ParseTrusted(csv string) (*Trusted, error) {
	t := &Trusted{}
	for item := range strings.SplitSeq(csv, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(item, "/") {
			p, err = netip.ParsePrefix(item)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(item)
			if err == nil && a.Zone() != "" {
				return nil, fmt.Errorf("proxyproto: trusted entry %q has an IPv6 zone; give the address without %%zone", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("proxyproto: trusted entry %q is not an IP address or CIDR (like 10.0.0.0/8 or fd00::/8): %w", item, err)
		}
		// 10.0.0.1/8 means 10.0.0.0/8; ::ffff:a.b.c.d means a.b.c.d.
		p = unmapPrefix(p).Masked()
		t.prefixes = append(t.prefixes, p)
	}
	if len(t.prefixes) == 0 {
		return nil, fmt.Errorf("proxyproto: no trusted proxy addresses in %q; list the load balancers' CIDRs, "+
			"for example 10.0.0.0/8 (or 0.0.0.0/0,::/0 to trust every peer)", csv)
	}
	return t, nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if !a.Is4In6() {
		return p
	}
	bits := p.Bits() - 96
	if bits < 0 {
		bits = 0
	}
	return netip.PrefixFrom(a.Unmap(), bits)
}

// Contains reports whether the peer at a may send a PROXY header. A nil
// Trusted contains nothing. IPv4-mapped IPv6 peers match IPv4 prefixes.
func (t *Trusted) Contains(a net.Addr) bool {
	if t == nil || a == nil {
		return false
	}
	ip, ok := addrIP(a)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// String lists the prefixes, comma-separated, for logs.
func (t *Trusted) String() string {
	if t == nil {
		return ""
	}
	var sb strings.Builder
	for i, p := range t.prefixes {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(p.String())
	}
	return sb.String()
}

// addrIP extracts the IP of a network address without allocating for the
// common concrete types.
func addrIP(a net.Addr) (netip.Addr, bool) {
	switch v := a.(type) {
	case *net.TCPAddr:
		return netip.AddrFromSlice(v.IP)
	case *net.UDPAddr:
		return netip.AddrFromSlice(v.IP)
	case *net.IPAddr:
		return netip.AddrFromSlice(v.IP)
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr(), true
	}
	ip, err := netip.ParseAddr(a.String())
	return ip, err == nil
}
