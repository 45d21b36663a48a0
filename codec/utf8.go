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
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		if w&wordHigh != 0 || hasZeroByte(w) {
			break // look at this word byte by byte
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

const (
	wordLow  = 0x0101010101010101
	wordHigh = 0x8080808080808080
)

// hasZeroByte reports whether some byte of w is 0 (the classic
// (w-0x01..)&^w&0x80.. test: exact for "any byte is zero").
func hasZeroByte(w uint64) bool { return (w-wordLow)&^w&wordHigh != 0 }

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
