package proxyproto

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// Test vectors shared by the parse, split, fuzz and benchmark tests.

type vector struct {
	name     string
	in       []byte
	version  byte
	command  byte
	src, dst string // "" when the header carries no address
}

// v2 builds a version 2 header: ver_cmd, fam, then the body (addresses and TLVs).
func v2(verCmd, fam byte, body ...[]byte) []byte {
	b := append([]byte{}, v2Sig[:]...)
	b = append(b, verCmd, fam, 0, 0)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-v2FixedLen))
	return b
}

func tlv(typ byte, val []byte) []byte {
	b := []byte{typ, byte(len(val) >> 8), byte(len(val))}
	return append(b, val...)
}

// withCRC appends a CRC32C TLV and fills it in as a sender must (§2.2.3).
func withCRC(hdr []byte) []byte {
	b := append([]byte{}, hdr...)
	b = append(b, tlv(tlvCRC32C, []byte{0, 0, 0, 0})...)
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-v2FixedLen))
	sum := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(b[len(b)-4:], sum)
	return b
}

var (
	// 172.19.0.1:42578 -> 172.19.0.3:80, as HAProxy sends it.
	addrTCP4 = []byte{
		172, 19, 0, 1, // source address
		172, 19, 0, 3, // destination address
		0xa6, 0x52, // source port 42578
		0x00, 0x50, // destination port 80
	}
	// [2001:db8::1]:51000 -> [2001:db8::2]:8883
	addrTCP6 = []byte{
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // source address
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // destination address
		0xc7, 0x38, // source port 51000
		0x22, 0xb3, // destination port 8883
	}
	// An SSL TLV with a version and CN sub-TLV, as HAProxy's send-proxy-v2-ssl-cn.
	tlvSSL = tlv(0x20, append([]byte{
		0x07,       // client: SSL | CERT_CONN | CERT_SESS
		0, 0, 0, 0, // verify: ok
	}, append(tlv(0x21, []byte("TLSv1.3")), tlv(0x22, []byte("device-42"))...)...))
)

var validVectors = []vector{
	{"V1TCP4", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), 1, CmdProxy, "192.168.0.1:56324", "192.168.0.11:443"},
	{"V1TCP4Max", []byte("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"), 1, CmdProxy, "255.255.255.255:65535", "255.255.255.255:65535"},
	{"V1TCP4Zero", []byte("PROXY TCP4 0.0.0.0 10.0.0.1 0 1883\r\n"), 1, CmdProxy, "0.0.0.0:0", "10.0.0.1:1883"},
	{"V1TCP6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 51000 8883\r\n"), 1, CmdProxy, "[2001:db8::1]:51000", "[2001:db8::2]:8883"},
	{"V1TCP6Max", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF 65535 65535\r\n"), 1, CmdProxy,
		"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
	{"V1TCP6Mapped", []byte("PROXY TCP6 ::ffff:192.0.2.1 :: 1 0\r\n"), 1, CmdProxy, "192.0.2.1:1", "[::]:0"},
	{"V1TCP6Full", []byte("PROXY TCP6 1:2:3:4:5:6:7:8 fe80::1:2 10 20\r\n"), 1, CmdProxy, "[1:2:3:4:5:6:7:8]:10", "[fe80::1:2]:20"},
	{"V1UnknownShort", []byte("PROXY UNKNOWN\r\n"), 1, CmdProxy, "", ""},
	{"V1UnknownLongest", []byte("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 1, CmdProxy, "", ""},
	{"V2ProxyTCP4", v2(0x21, 0x11, addrTCP4), 2, CmdProxy, "172.19.0.1:42578", "172.19.0.3:80"},
	{"V2ProxyTCP6", v2(0x21, 0x21, addrTCP6), 2, CmdProxy, "[2001:db8::1]:51000", "[2001:db8::2]:8883"},
	{"V2ProxyTCP4TLVs", v2(0x21, 0x11, addrTCP4,
		tlv(0x01, []byte("mqtt")),            // ALPN
		tlv(0x02, []byte("broker.example")),  // AUTHORITY
		tlv(0x04, nil),                       // NOOP, empty
		tlv(0x05, []byte("conn-1234567890")), // UNIQUE_ID
		tlvSSL,
		tlv(0xEA, []byte{1, 2, 3}), // custom range
	), 2, CmdProxy, "172.19.0.1:42578", "172.19.0.3:80"},
	{"V2ProxyTCP6TLVs", v2(0x21, 0x21, addrTCP6, tlvSSL, tlv(0x04, make([]byte, 300))), 2, CmdProxy, "[2001:db8::1]:51000", "[2001:db8::2]:8883"},
	{"V2ProxyTCP4CRC", withCRC(v2(0x21, 0x11, addrTCP4, tlv(0x01, []byte("mqtt")))), 2, CmdProxy, "172.19.0.1:42578", "172.19.0.3:80"},
	{"V2LocalUnspec", v2(0x20, 0x00), 2, CmdLocal, "", ""},
	{"V2LocalTCP4", v2(0x20, 0x11, addrTCP4), 2, CmdLocal, "", ""},
	// LOCAL: the whole block is discarded unread, even a bad TLV (§2.2).
	{"V2LocalJunk", v2(0x20, 0x11, []byte{1, 2, 3, 4, 5}), 2, CmdLocal, "", ""},
	{"V2ProxyUDP4", v2(0x21, 0x12, addrTCP4), 2, CmdProxy, "", ""},
	{"V2ProxyUDP6", v2(0x21, 0x22, addrTCP6), 2, CmdProxy, "", ""},
	{"V2ProxyUnix", v2(0x21, 0x31, make([]byte, 216)), 2, CmdProxy, "", ""},
	{"V2ProxyUnspecWithBytes", v2(0x21, 0x00, []byte{9, 9, 9}), 2, CmdProxy, "", ""},
}

type badVector struct {
	name string
	in   []byte
	err  error
}

var badVectors = []badVector{
	{"NotProxyMQTTConnect", []byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c}, ErrNotProxy},
	{"NotProxyTLS", []byte{0x16, 0x03, 0x01, 0x00, 0xf4}, ErrNotProxy},
	{"NotProxyHTTPGet", []byte("GET /mqtt HTTP/1.1\r\n"), ErrNotProxy},
	{"NotProxyHTTPPost", []byte("POST / HTTP/1.1\r\n"), ErrNotProxy},
	{"NotProxyPROXX", []byte("PROXX TCP4"), ErrNotProxy},
	{"NotProxyNoSpace", []byte("PROXYTCP4"), ErrNotProxy},
	{"NotProxyV2Sig", []byte("\r\n\r\n\x00\r\nQUIX\n!\x11\x00\x0c"), ErrNotProxy},
	{"NotProxyCRLF", []byte("\r\nGET"), ErrNotProxy},

	{"V1LoneLF", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n"), errV1EOL},
	{"V1LoneCR", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX"), errV1EOL},
	{"V1LoneCRMiddle", []byte("PROXY UNKNOWN a\rb\r\n"), errV1EOL},
	{"V1TooLong", []byte("PROXY UNKNOWN " + strings.Repeat("a", MaxV1Len-14)), errV1TooLong},
	{"V1CRLFAt108", []byte("PROXY UNKNOWN " + strings.Repeat("a", MaxV1Len-15) + "\r\n"), errV1TooLong},
	{"V1ProtoTCP5", []byte("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), errV1Proto},
	{"V1ProtoTCP5Partial", []byte("PROXY TCP5"), errV1Proto},
	{"V1ProtoLower", []byte("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), errV1Proto},
	{"V1ProtoEmpty", []byte("PROXY \r\n"), errV1Proto},
	{"V1ProtoDoubleSpace", []byte("PROXY  TCP4"), errV1Proto},
	{"V1TCP4NoAddr", []byte("PROXY TCP4\r\n"), errV1Fields},
	{"V1MissingPort", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n"), errV1Fields},
	{"V1ExtraField", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 7\r\n"), errV1Fields},
	{"V1ExtraFieldPartial", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 "), errV1Fields},
	{"V1TrailingSpace", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n"), errV1Fields},
	{"V1DoubleSpace", []byte("PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n"), errV1Fields},
	{"V1DoubleSpacePartial", []byte("PROXY TCP4  1"), errV1Addr4},
	{"V1Addr4LeadingZero", []byte("PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n"), errV1Addr4},
	{"V1Addr4Octet256", []byte("PROXY TCP4 256.1.1.1 192.168.0.11 56324 443\r\n"), errV1Addr4},
	{"V1Addr4ThreeParts", []byte("PROXY TCP4 1.2.3 192.168.0.11 56324 443\r\n"), errV1Addr4},
	{"V1Addr4FiveParts", []byte("PROXY TCP4 1.2.3.4.5 192.168.0.11 56324 443\r\n"), errV1Addr4},
	{"V1Addr4InTCP6", []byte("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6InTCP4", []byte("PROXY TCP4 ::1 1.2.3.4 1 2\r\n"), errV1Addr4},
	{"V1Addr6InTCP4Partial", []byte("PROXY TCP4 ::"), errV1Addr4},
	{"V1Addr4PartialLetter", []byte("PROXY TCP4 1.2.3.4 a"), errV1Addr4},
	{"V1Addr6Triple", []byte("PROXY TCP6 1:::2 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6TwoEllipses", []byte("PROXY TCP6 1::2::3 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6FiveHex", []byte("PROXY TCP6 12345::1 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6NineGroups", []byte("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6SevenGroups", []byte("PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6EllipsisNoGap", []byte("PROXY TCP6 1:2:3:4::5:6:7:8 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6LeadingColon", []byte("PROXY TCP6 :1::2 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6TrailingColon", []byte("PROXY TCP6 1::2: ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6Zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6BadV4Tail", []byte("PROXY TCP6 ::1.2.3.4.5 ::1 1 2\r\n"), errV1Addr6},
	{"V1Addr6V4TailNotLast", []byte("PROXY TCP6 1:2:3:4:5:1.2.3.4 ::1 1 2\r\n"), errV1Addr6},
	{"V1Port65536", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n"), errV1Port},
	{"V1PortLeadingZero", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 0443 1\r\n"), errV1Port},
	{"V1PortLeadingZeroPartial", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 04"), errV1Port},
	{"V1PortSign", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 1\r\n"), errV1Port},
	{"V1PortEmpty", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n"), errV1Port},

	{"V2Version1", v2(0x11, 0x11, addrTCP4), errV2Version},
	{"V2Version3Partial", append(v2Sig[:], 0x31), errV2Version},
	{"V2Command2", v2(0x22, 0x11, addrTCP4), errV2Command},
	{"V2Family4", v2(0x21, 0x41, addrTCP4), errV2Family},
	{"V2Proto3", v2(0x21, 0x13, addrTCP4), errV2Family},
	{"V2ShortTCP4", v2(0x21, 0x11, addrTCP4[:8]), errV2Short},
	{"V2ShortTCP6", v2(0x21, 0x21, addrTCP4), errV2Short},
	{"V2ShortUnix", v2(0x21, 0x31, addrTCP6), errV2Short},
	{"V2TLVTruncatedHeader", v2(0x21, 0x11, addrTCP4, []byte{0x01, 0x00}), errV2TLV},
	{"V2TLVOverrun", v2(0x21, 0x11, addrTCP4, []byte{0x01, 0x00, 0x05, 'm', 'q'}), errV2TLV},
	{"V2TLVOverrunMax", v2(0x21, 0x11, addrTCP4, []byte{0x04, 0xff, 0xff}), errV2TLV},
	{"V2CRCLen", v2(0x21, 0x11, addrTCP4, tlv(tlvCRC32C, []byte{1, 2, 3})), errV2CRCLen},
	{"V2CRCMismatch", func() []byte {
		b := withCRC(v2(0x21, 0x11, addrTCP4))
		b[16] ^= 0xFF // flip a source address byte after the checksum was made
		return b
	}(), errV2CRC},
}
