package proxyproto

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Version 2: a 16-byte binary prefix, an address block and TLVs (§2.2):
//
//	sig[12] = 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
//	ver_cmd   version (high nibble, must be 2) | command (low nibble, 0 or 1)
//	fam       family (high nibble, 0..3) | transport (low nibble, 0..2)
//	len[2]    bytes that follow, big endian
//	addresses, then TLVs: type[1] length[2] value[length]

const v2FixedLen = 16

var v2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// Address families and transports (high and low nibble of byte 14).
const (
	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	protoUnspec = 0x0
	protoStream = 0x1
	protoDgram  = 0x2
)

// TLV types that Parse looks at; all others are skipped (§2.2.x).
const tlvCRC32C = 0x03

var (
	errV2Version = errors.New("proxyproto: v2 header version is not 2; the peer sends an unknown PROXY protocol version")
	errV2Command = errors.New("proxyproto: v2 header command is neither LOCAL (0) nor PROXY (1)")
	errV2Family  = errors.New("proxyproto: v2 header has an unassigned address family or transport protocol")
	errV2Short   = errors.New("proxyproto: v2 header length is shorter than its address family requires")
	errV2TLV     = errors.New("proxyproto: v2 header TLV runs past the end of the header")
	errV2CRCLen  = errors.New("proxyproto: v2 header CRC32C TLV does not hold exactly 4 bytes")
	errV2CRC     = errors.New("proxyproto: v2 header CRC32C checksum does not match; the header is corrupt")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// zero4 stands in for the checksum field; a package variable so that passing
// it to crc32 does not allocate.
var zero4 [4]byte

// v2AddrLen is the address block length for a family and transport: 12 for
// IPv4, 36 for IPv6, 216 for UNIX, 0 when unspecified (§2.2).
func v2AddrLen(fam, proto byte) int {
	if proto == protoUnspec {
		return 0
	}
	switch fam {
	case famInet:
		return 12
	case famInet6:
		return 36
	case famUnix:
		return 216
	}
	return 0
}

func parseV2(b []byte) (Header, int, error) {
	n := min(len(b), len(v2Sig))
	if string(b[:n]) != string(v2Sig[:n]) {
		return Header{}, 0, ErrNotProxy
	}
	// Each field is checked as soon as it arrives, so garbage is refused
	// without waiting for the whole header.
	if len(b) < 13 {
		return Header{}, 0, ErrIncomplete
	}
	// The version must be 2; a command other than LOCAL or PROXY must be
	// dropped (§2.2).
	if b[12]>>4 != 2 {
		return Header{}, 0, errV2Version
	}
	cmd := b[12] & 0x0F
	if cmd > CmdProxy {
		return Header{}, 0, errV2Command
	}
	if len(b) < 14 {
		return Header{}, 0, ErrIncomplete
	}
	// Other families and transports must be rejected as invalid (§2.2).
	fam, proto := b[13]>>4, b[13]&0x0F
	if fam > famUnix || proto > protoDgram {
		return Header{}, 0, errV2Family
	}
	if len(b) < v2FixedLen {
		return Header{}, 0, ErrIncomplete
	}
	total := v2FixedLen + int(binary.BigEndian.Uint16(b[14:16]))
	addrLen := v2AddrLen(fam, proto)
	if cmd == CmdProxy && total-v2FixedLen < addrLen {
		return Header{}, 0, errV2Short
	}
	if len(b) < total {
		return Header{}, 0, ErrIncomplete
	}
	h := Header{Version: 2, Command: cmd}
	// LOCAL: the receiver must discard the whole block, family included (§2.2).
	if cmd == CmdLocal {
		return h, total, nil
	}
	// With UNSPEC the block may still hold address information of unknown
	// layout, so only known layouts have their TLVs checked.
	if addrLen == 0 {
		return h, total, nil
	}
	if err := checkTLVs(b[:total], v2FixedLen+addrLen); err != nil {
		return Header{}, 0, err
	}
	// Only TCP over IPv4/IPv6 yields addresses; for the other valid
	// combinations the receiver falls back to UNSPEC and uses the
	// connection's own endpoints (§2.2).
	if proto != protoStream || (fam != famInet && fam != famInet6) {
		return h, total, nil
	}
	a := b[v2FixedLen : v2FixedLen+addrLen]
	ap := new(addrPair)
	if fam == famInet {
		copy(ap.ip[0:4], a[0:4])
		copy(ap.ip[16:20], a[4:8])
		ap.src.IP = ap.ip[0:4:4]
		ap.dst.IP = ap.ip[16:20:20]
		a = a[8:]
	} else {
		copy(ap.ip[:], a[:32])
		ap.src.IP = ap.ip[0:16:16]
		ap.dst.IP = ap.ip[16:32:32]
		a = a[32:]
	}
	ap.src.Port = int(binary.BigEndian.Uint16(a[0:2]))
	ap.dst.Port = int(binary.BigEndian.Uint16(a[2:4]))
	h.Source, h.Dest = &ap.src, &ap.dst
	return h, total, nil
}

// checkTLVs walks the TLVs of hdr (the whole header) from offset off, checking
// that each one fits, and verifies a CRC32C TLV when present (§2.2.3: a
// receiver that supports the checksum must verify it).
func checkTLVs(hdr []byte, off int) error {
	for off < len(hdr) {
		if len(hdr)-off < 3 {
			return errV2TLV
		}
		typ := hdr[off]
		l := int(binary.BigEndian.Uint16(hdr[off+1 : off+3]))
		val := off + 3
		if l > len(hdr)-val {
			return errV2TLV
		}
		if typ == tlvCRC32C {
			if l != 4 {
				return errV2CRCLen
			}
			// Checksum of the whole header with the checksum field as zeros.
			sum := crc32.Update(0, castagnoli, hdr[:val])
			sum = crc32.Update(sum, castagnoli, zero4[:])
			sum = crc32.Update(sum, castagnoli, hdr[val+4:])
			if sum != binary.BigEndian.Uint32(hdr[val:val+4]) {
				return errV2CRC
			}
		}
		off = val + l
	}
	return nil
}
