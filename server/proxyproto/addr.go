package proxyproto

// Allocation-free parsers for the textual addresses of version 1. The standard
// library's parsers take strings, and converting the header bytes to a string
// would allocate on every connection.

// parseIPv4 parses a dotted quad into out[:4]: exactly four decimal numbers
// 0..255 with no leading zeros (§2.1 forbids them to avoid octal confusion).
func parseIPv4(s []byte, out []byte) bool {
	for part := 0; part < 4; part++ {
		if part > 0 {
			if len(s) == 0 || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
		n := 0
		for n < len(s) && n < 4 && isDigit(s[n]) {
			n++
		}
		v, ok := parseDecimal(s[:n], 3)
		if !ok || v > 255 {
			return false
		}
		out[part] = byte(v)
		s = s[n:]
	}
	return len(s) == 0
}

// parseDecimal parses 1..maxDigits decimal digits without a leading zero
// (except "0" itself).
func parseDecimal(s []byte, maxDigits int) (int, bool) {
	if len(s) == 0 || len(s) > maxDigits || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseIPv6 parses an IPv6 address: groups of 1..4 hex digits separated by
// colons, at most one "::" standing for one or more zero groups, and an
// optional dotted IPv4 tail (::ffff:192.0.2.1). No zone. ip must be zeroed.
func parseIPv6(s []byte, ip *[16]byte) bool {
	ellipsis := -1 // byte offset in ip where "::" was seen
	i := 0         // bytes of ip filled
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
	}
	for len(s) > 0 {
		if i == 16 {
			return false
		}
		n, acc := 0, 0
		for n < len(s) && n < 4 {
			h := hexVal(s[n])
			if h < 0 {
				break
			}
			acc = acc<<4 | h
			n++
		}
		if n < len(s) && s[n] == '.' {
			// IPv4 tail: it fills the last four bytes, directly (i == 12)
			// or after a "::".
			if i+4 > 16 || (ellipsis < 0 && i != 12) {
				return false
			}
			if !parseIPv4(s, ip[i:i+4]) {
				return false
			}
			i += 4
			s = nil
			break
		}
		if n == 0 {
			return false
		}
		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2
		s = s[n:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return false // a fifth hex digit, a stray character or a trailing single colon
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return false // only one "::"
			}
			ellipsis = i
			s = s[1:]
		}
	}
	if i < 16 {
		if ellipsis < 0 {
			return false // too few groups
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return false // "::" must stand for at least one group
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
