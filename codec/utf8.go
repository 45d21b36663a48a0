package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// ValidUTF8 reports whether s is a valid MQTT UTF-8 string: well-formed
// UTF-8 (no surrogates, no overlong forms) [MQTT-1.5.3-1] without U+0000
// [MQTT-1.5.3-2]. ASCII is checked eight bytes at a time. The control
// characters the specification only discourages (U+0001..U+001F,
// U+007F..U+009F) are accepted.
func ValidUTF8(s []byte) bool {
	const hi = 0x8080808080808080
	const lo = 0x0101010101010101
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		// (w-lo)&^w&hi is non-zero iff some byte of w is 0 (or some byte has
		// its high bit set, which sends us to the slow path anyway).
		if w&hi != 0 || (w-lo)&^w&hi != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			return validUTF8Slow(s[i:])
		}
	}
	return true
}

func validUTF8Slow(s []byte) bool {
	for len(s) > 0 {
		c := s[0]
		if c == 0 {
			return false
		}
		if c < utf8.RuneSelf {
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			return false
		}
		s = s[n:]
	}
	return true
}
