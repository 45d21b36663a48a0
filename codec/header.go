// Package codec is the MQTT 3.1, 3.1.1 and 5.0 wire codec.
//
// Decoding works in place: every []byte field a Decode method fills is a
// sub-slice of the input and stays valid only as long as the input does
// (for a gnet Peek/Next slice: until OnTraffic returns or the bytes are
// discarded). Copy what must outlive the input. Decoding into a reused
// struct does not allocate, except that slices (user properties,
// subscription identifiers, subscriptions, filters, reason codes) grow the
// first time they need more capacity than they have.
//
// Encoding appends: AppendX(dst, ...) returns dst extended by the encoded
// packet; dst may be nil. Encoding into a buffer with enough capacity does
// not allocate. Encoders do not validate: the caller passes values the
// protocol allows (strings at most 65,535 bytes, a packet at most
// 268,435,455 bytes, and so on).
//
// Nothing here does I/O, starts goroutines or keeps global mutable state:
// any goroutine may call any function, on values it owns.
package codec

import "encoding/binary"

// Protocol levels, the byte after the protocol name in CONNECT.
const (
	Version31  byte = 3 // MQTT 3.1, protocol name "MQIsdp"
	Version311 byte = 4 // MQTT 3.1.1, protocol name "MQTT"
	Version5   byte = 5 // MQTT 5.0, protocol name "MQTT"
)

// MaxRemaining is the largest remaining length a variable byte integer can
// carry (§1.5.5): 268,435,455 bytes.
const MaxRemaining = 268435455

// PacketType is the MQTT control packet type, the high nibble of the first
// byte of the fixed header.
type PacketType byte

// Control packet types (§2.1.2).
const (
	CONNECT     PacketType = 1
	CONNACK     PacketType = 2
	PUBLISH     PacketType = 3
	PUBACK      PacketType = 4
	PUBREC      PacketType = 5
	PUBREL      PacketType = 6
	PUBCOMP     PacketType = 7
	SUBSCRIBE   PacketType = 8
	SUBACK      PacketType = 9
	UNSUBSCRIBE PacketType = 10
	UNSUBACK    PacketType = 11
	PINGREQ     PacketType = 12
	PINGRESP    PacketType = 13
	DISCONNECT  PacketType = 14
	AUTH        PacketType = 15 // MQTT 5 only; reserved in 3.1.1
)

var packetNames = [16]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH"}

// String returns the packet type's name as the specification writes it.
func (t PacketType) String() string {
	if t < 16 {
		return packetNames[t]
	}
	return "INVALID"
}

// requiredFlags holds the only allowed flags nibble for each packet type
// other than PUBLISH [MQTT-2.2.2-1, MQTT-2.2.2-2].
var requiredFlags = [16]byte{PUBREL: 0b0010, SUBSCRIBE: 0b0010, UNSUBSCRIBE: 0b0010}

// FixedHeader is the decoded fixed header (§2.1).
type FixedHeader struct {
	Type      PacketType
	Flags     byte // low nibble of the first byte
	Remaining int  // remaining length: bytes after the fixed header
	HeaderLen int  // 1 + the remaining length's varint bytes
}

// Len returns the whole packet's size: HeaderLen + Remaining.
func (h FixedHeader) Len() int { return h.HeaderLen + h.Remaining }

// ParseFixedHeader reads only the fixed header at b's start; the body is
// b[h.HeaderLen : h.HeaderLen+h.Remaining] once that many bytes are there.
// It returns ErrIncomplete if b ends inside the header (read more and retry),
// and a MalformedPacket *Error for a remaining length over 4 bytes or not
// minimally encoded, packet type 0, flags wrong for the type, or a PUBLISH
// with QoS bits 11. It does not allocate.
func ParseFixedHeader(b []byte) (FixedHeader, error) {
	if len(b) < 2 {
		return FixedHeader{}, ErrIncomplete
	}
	t := PacketType(b[0] >> 4)
	flags := b[0] & 0x0F
	if t == 0 {
		return FixedHeader{}, errTypeReserved
	}
	if t == PUBLISH {
		if flags&0b0110 == 0b0110 {
			return FixedHeader{}, errPublishQoS3 // [MQTT-3.3.1-4]
		}
	} else if flags != requiredFlags[t] {
		// [MQTT-2.2.2-1] [MQTT-2.2.2-2]; PUBREL, SUBSCRIBE, UNSUBSCRIBE must
		// carry 0b0010 [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1].
		return FixedHeader{}, errFlags
	}
	if b[1] < 0x80 { // one-byte remaining length: the common case
		return FixedHeader{Type: t, Flags: flags, Remaining: int(b[1]), HeaderLen: 2}, nil
	}
	v, n, err := ReadVarInt(b[1:])
	if err != nil {
		return FixedHeader{}, err
	}
	return FixedHeader{Type: t, Flags: flags, Remaining: int(v), HeaderLen: 1 + n}, nil
}

// CheckEmpty returns a MalformedPacket *Error unless h has remaining length 0,
// as PINGREQ and PINGRESP (and an MQTT 3 DISCONNECT) must (§3.12, §3.13).
func CheckEmpty(h FixedHeader) error {
	if h.Remaining != 0 {
		return errNotEmpty
	}
	return nil
}

// AppendFixedHeader appends a fixed header: type, flags (low nibble) and the
// remaining length (at most MaxRemaining).
func AppendFixedHeader(dst []byte, t PacketType, flags byte, remaining int) []byte {
	dst = append(dst, byte(t)<<4|flags&0x0F)
	return AppendVarInt(dst, uint32(remaining))
}

// AppendVarInt appends v as a variable byte integer (§1.5.5); v must be at
// most MaxRemaining.
func AppendVarInt(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// ReadVarInt decodes a variable byte integer at b's start and returns its
// value and length. It returns ErrIncomplete if b ends before the integer
// does, and a MalformedPacket *Error if it runs over 4 bytes or is not in
// its minimal form [MQTT-1.5.5-1].
func ReadVarInt(b []byte) (v uint32, n int, err error) {
	var shift uint
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, ErrIncomplete
		}
		c := b[i]
		v |= uint32(c&0x7F) << shift
		if c < 0x80 {
			if c == 0 && i > 0 {
				// A final 0x00 after a continuation byte means a shorter
				// encoding existed [MQTT-1.5.5-1].
				return 0, 0, errVarIntNotMin
			}
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, errVarIntTooLong
}

// readVarInt is ReadVarInt inside a packet body, where running out of bytes
// is malformed rather than incomplete.
func readVarInt(b []byte, i int) (uint32, int, error) {
	if i < len(b) && b[i] < 0x80 {
		return uint32(b[i]), i + 1, nil
	}
	if i > len(b) {
		return 0, i, errShort
	}
	v, n, err := ReadVarInt(b[i:])
	if err != nil {
		if err == ErrIncomplete {
			return 0, i, errShort
		}
		return 0, i, err
	}
	return v, i + n, nil
}

// VarIntLen returns how many bytes AppendVarInt writes for v.
func VarIntLen(v uint32) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	}
	return 4
}

// AppendString appends s as an MQTT string or binary data: a big-endian
// uint16 length, then the bytes. s must be at most 65,535 bytes.
func AppendString(dst []byte, s []byte) []byte {
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...)
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// readUint16 reads a big-endian uint16 at b[i:].
func readUint16(b []byte, i int) (uint16, int, error) {
	if i+2 > len(b) {
		return 0, i, errShort
	}
	return binary.BigEndian.Uint16(b[i:]), i + 2, nil
}

// readUint32 reads a big-endian uint32 at b[i:].
func readUint32(b []byte, i int) (uint32, int, error) {
	if i+4 > len(b) {
		return 0, i, errShort
	}
	return binary.BigEndian.Uint32(b[i:]), i + 4, nil
}

// readBinary reads length-prefixed binary data at b[i:] and returns it as a
// sub-slice of b with its capacity clipped, so an append by the caller can
// never overwrite the bytes that follow.
func readBinary(b []byte, i int) ([]byte, int, error) {
	if i+2 > len(b) {
		return nil, i, errShort
	}
	n := int(b[i])<<8 | int(b[i+1])
	i += 2
	if i+n > len(b) {
		return nil, i, errShort
	}
	return b[i : i+n : i+n], i + n, nil
}

// readString reads a length-prefixed MQTT UTF-8 string at b[i:]
// [MQTT-1.5.3-1] [MQTT-1.5.3-2].
func readString(b []byte, i int) ([]byte, int, error) {
	s, i, err := readBinary(b, i)
	if err != nil {
		return nil, i, err
	}
	if !ValidUTF8(s) {
		return nil, i, errUTF8
	}
	return s, i, nil
}
