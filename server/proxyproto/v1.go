package proxyproto

import (
	"bytes"
	"errors"
)

// Version 1: one US-ASCII line (§2.1):
//
//	PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n
//	PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
//	PROXY UNKNOWN[ anything]\r\n

const v1Prefix = "PROXY "

var (
	errV1TooLong = errors.New("proxyproto: v1 header longer than 107 bytes without CRLF; " +
		"the peer does not send a valid PROXY v1 line (check the load balancer's proxy-protocol setting)")
	errV1EOL    = errors.New("proxyproto: v1 header contains a lone CR or LF; the line must end with exactly CRLF")
	errV1Proto  = errors.New("proxyproto: v1 header protocol is not TCP4, TCP6 or UNKNOWN")
	errV1Fields = errors.New("proxyproto: v1 header must be \"PROXY TCP4|TCP6 src dst srcport dstport\" " +
		"with single spaces between exactly six fields")
	errV1Addr4 = errors.New("proxyproto: v1 TCP4 address is not a canonical IPv4 address " +
		"(four decimal numbers 0..255, no leading zeros)")
	errV1Addr6 = errors.New("proxyproto: v1 TCP6 address is not a valid IPv6 address")
	errV1Port  = errors.New("proxyproto: v1 port is not a decimal number 0..65535 without leading zeros")
)

// v1 field kinds, in order after the protocol.
const (
	fieldSrc = iota
	fieldDst
	fieldSrcPort
	fieldDstPort
	v1FieldCount
)

func parseV1(b []byte) (Header, int, error) {
	n := min(len(b), len(v1Prefix))
	if string(b[:n]) != v1Prefix[:n] {
		return Header{}, 0, ErrNotProxy
	}
	if len(b) < len(v1Prefix) {
		return Header{}, 0, ErrIncomplete
	}
	// The receiver must find CRLF within the first 107 bytes and must not
	// accept a lone CR or LF as the end of the line (§2.1).
	lim := min(len(b), MaxV1Len)
	for i := len(v1Prefix); i < lim; i++ {
		switch b[i] {
		case '\n':
			if b[i-1] != '\r' {
				return Header{}, 0, errV1EOL
			}
			h, err := parseV1Line(b[len(v1Prefix):i-1], true)
			if err != nil {
				return Header{}, 0, err
			}
			return h, i + 1, nil
		case '\r':
			if i+1 < len(b) && b[i+1] != '\n' {
				return Header{}, 0, errV1EOL
			}
		}
	}
	if len(b) >= MaxV1Len {
		return Header{}, 0, errV1TooLong
	}
	// No CRLF yet: reject early when what we have cannot become a valid line.
	line := b[len(v1Prefix):]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	_, err := parseV1Line(line, false)
	return Header{}, 0, err
}

// parseV1Line parses the line after "PROXY " without its CRLF. When complete
// is false the line is a prefix still waiting for its CRLF: it returns
// ErrIncomplete if the prefix can still become valid, or the error that makes
// it invalid.
func parseV1Line(line []byte, complete bool) (Header, error) {
	proto, rest, more := cut(line)
	if !more {
		if complete {
			// "PROXY UNKNOWN\r\n" is the short form; TCP4/TCP6 need addresses.
			if string(proto) == "UNKNOWN" {
				return Header{Version: 1, Command: CmdProxy}, nil
			}
			if string(proto) == "TCP4" || string(proto) == "TCP6" {
				return Header{}, errV1Fields
			}
			return Header{}, errV1Proto
		}
		if hasPrefixOf(proto, "TCP4") || hasPrefixOf(proto, "TCP6") || hasPrefixOf(proto, "UNKNOWN") {
			return Header{}, ErrIncomplete
		}
		return Header{}, errV1Proto
	}
	var v6 bool
	switch string(proto) {
	case "UNKNOWN":
		// The receiver must ignore anything before the CRLF (§2.1).
		if !complete {
			return Header{}, ErrIncomplete
		}
		return Header{Version: 1, Command: CmdProxy}, nil
	case "TCP4":
	case "TCP6":
		v6 = true
	default:
		return Header{}, errV1Proto
	}

	var f [v1FieldCount][]byte
	nf := 0
	for {
		if nf == v1FieldCount {
			return Header{}, errV1Fields
		}
		f[nf], rest, more = cut(rest)
		nf++
		if !more {
			break
		}
	}

	var src, dst [16]byte
	var sport, dport int
	last := nf - 1
	if complete {
		if nf != v1FieldCount {
			return Header{}, errV1Fields
		}
		last = -1 // every field is whole
	}
	for i := 0; i < nf; i++ {
		var err error
		switch i {
		case fieldSrc:
			err = v1Addr(f[i], v6, &src, i == last)
		case fieldDst:
			err = v1Addr(f[i], v6, &dst, i == last)
		case fieldSrcPort:
			sport, err = v1Port(f[i], i == last)
		case fieldDstPort:
			dport, err = v1Port(f[i], i == last)
		}
		if err != nil {
			return Header{}, err
		}
	}
	if !complete {
		return Header{}, ErrIncomplete
	}

	ap := new(addrPair)
	if v6 {
		copy(ap.ip[0:16], src[:])
		copy(ap.ip[16:32], dst[:])
		ap.src.IP = ap.ip[0:16:16]
		ap.dst.IP = ap.ip[16:32:32]
	} else {
		copy(ap.ip[0:4], src[:4])
		copy(ap.ip[16:20], dst[:4])
		ap.src.IP = ap.ip[0:4:4]
		ap.dst.IP = ap.ip[16:20:20]
	}
	ap.src.Port = sport
	ap.dst.Port = dport
	return Header{Version: 1, Command: CmdProxy, Source: &ap.src, Dest: &ap.dst}, nil
}

// v1Addr parses an address field into ip (4 bytes used for IPv4). A partial
// field (the last one of an incomplete line) is only checked for characters
// and length.
func v1Addr(tok []byte, v6 bool, ip *[16]byte, partial bool) error {
	if v6 {
		if partial {
			// The longest form embeds IPv4: ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.
			if len(tok) > 45 || !allIn(tok, isV6Char) {
				return errV1Addr6
			}
			return nil
		}
		if !parseIPv6(tok, ip) {
			return errV1Addr6
		}
		return nil
	}
	if partial {
		if len(tok) > 15 || !allIn(tok, isV4Char) {
			return errV1Addr4
		}
		return nil
	}
	if !parseIPv4(tok, ip[:4]) {
		return errV1Addr4
	}
	return nil
}

// v1Port parses a port field: 0..65535, no leading zeros (§2.1).
func v1Port(tok []byte, partial bool) (int, error) {
	if partial {
		if len(tok) > 5 || !allIn(tok, isDigit) || (len(tok) > 1 && tok[0] == '0') {
			return 0, errV1Port
		}
		return 0, nil
	}
	p, ok := parseDecimal(tok, 5)
	if !ok || p > 0xFFFF {
		return 0, errV1Port
	}
	return p, nil
}

// cut splits b at the first space.
func cut(b []byte) (before, after []byte, found bool) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// hasPrefixOf reports whether b is a prefix of s.
func hasPrefixOf(b []byte, s string) bool {
	return len(b) <= len(s) && string(b) == s[:len(b)]
}

func allIn(b []byte, ok func(byte) bool) bool {
	for _, c := range b {
		if !ok(c) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isV4Char(c byte) bool { return isDigit(c) || c == '.' }
func isV6Char(c byte) bool { return hexVal(c) >= 0 || c == ':' || c == '.' }
