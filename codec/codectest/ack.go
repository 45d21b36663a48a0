package codectest

import "github.com/cp7/cp7/codec"

// Ack holds PUBACK, PUBREC, PUBREL and PUBCOMP vectors (§3.4-3.7).
var Ack = []Case{
	{
		Name: "TPuback", Version: codec.Version311, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 2, // fixed header: PUBACK
			0, 11, // packet identifier
		},
		Packet: &codec.Ack{Type: codec.PUBACK, PacketID: 11},
	},
	{
		Name: "TPubrec", Version: codec.Version311, Type: codec.PUBREC,
		Raw: []byte{
			0x50, 2, // fixed header: PUBREC
			0, 12, // packet identifier
		},
		Packet: &codec.Ack{Type: codec.PUBREC, PacketID: 12},
	},
	{
		Name: "TPubrel", Desc: "flags 0b0010 [MQTT-3.6.1-1]", Version: codec.Version311, Type: codec.PUBREL,
		Raw: []byte{
			0x62, 2, // fixed header: PUBREL, flags 0010
			0, 13, // packet identifier
		},
		Packet: &codec.Ack{Type: codec.PUBREL, PacketID: 13},
	},
	{
		Name: "TPubcomp", Version: codec.Version311, Type: codec.PUBCOMP,
		Raw: []byte{
			0x70, 2, // fixed header: PUBCOMP
			0, 14, // packet identifier
		},
		Packet: &codec.Ack{Type: codec.PUBCOMP, PacketID: 14},
	},
	{
		Name: "TPubackMqtt5", Desc: "remaining length 2 means Success, no properties [MQTT-3.4.2.1]", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 2, // fixed header
			0, 11, // packet identifier
		},
		Packet: &codec.Ack{Type: codec.PUBACK, PacketID: 11},
	},
	{
		Name: "TPubackV5ReasonOnly", Desc: "reason code without properties", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 3, // fixed header
			0, 11, // packet identifier
			0x10, // reason code: no matching subscribers
		},
		Packet: &codec.Ack{Type: codec.PUBACK, PacketID: 11, ReasonCode: codec.NoMatchingSubscribers},
	},
	{
		Name: "TPubackV5Props", Desc: "reason code, reason string and user property", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 18, // fixed header
			0, 11, // packet identifier
			0x80,                           // reason code: unspecified error
			14,                             // properties length
			0x1F, 0, 4, 'o', 'o', 'p', 's', // reason string
			0x26, 0, 1, 'k', 0, 1, 'v', // user property
		},
		Packet: &codec.Ack{Type: codec.PUBACK, PacketID: 11, ReasonCode: codec.UnspecifiedError,
			Props: codec.Properties{Present: present(codec.PropReasonString, codec.PropUser), ReasonString: b("oops"),
				User: []codec.UserProperty{{Key: b("k"), Value: b("v")}}}},
	},
	{
		Name: "TPubackV5SuccessPropLen0", Desc: "explicit Success and empty properties; the encoder omits both", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 4, // fixed header
			0, 11, // packet identifier
			0x00, // reason code: success
			0,    // properties length
		},
		Packet:     &codec.Ack{Type: codec.PUBACK, PacketID: 11},
		DecodeOnly: true,
	},
	{
		Name: "TPubrecV5QuotaExceeded", Version: codec.Version5, Type: codec.PUBREC,
		Raw: []byte{
			0x50, 3, // fixed header
			0, 12, // packet identifier
			0x97, // reason code: quota exceeded
		},
		Packet: &codec.Ack{Type: codec.PUBREC, PacketID: 12, ReasonCode: codec.QuotaExceeded},
	},
	{
		Name: "TPubrelV5NotFound", Version: codec.Version5, Type: codec.PUBREL,
		Raw: []byte{
			0x62, 3, // fixed header
			0, 13, // packet identifier
			0x92, // reason code: packet identifier not found
		},
		Packet: &codec.Ack{Type: codec.PUBREL, PacketID: 13, ReasonCode: codec.PacketIdentifierNotFound},
	},
	{
		Name: "TPubcompV5Props", Version: codec.Version5, Type: codec.PUBCOMP,
		Raw: []byte{
			0x70, 11, // fixed header
			0, 14, // packet identifier
			0x92,                           // reason code: packet identifier not found
			7,                              // properties length
			0x1F, 0, 4, 'g', 'o', 'n', 'e', // reason string
		},
		Packet: &codec.Ack{Type: codec.PUBCOMP, PacketID: 14, ReasonCode: codec.PacketIdentifierNotFound,
			Props: codec.Properties{Present: present(codec.PropReasonString), ReasonString: b("gone")}},
	},

	// Malformed and invalid.
	{
		Name: "TPubackMalV3Length", Desc: "3.1.1 PUBACK with remaining length 3", Version: codec.Version311, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 3, // fixed header
			0, 11, // packet identifier
			0, // extra byte
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPubackMalShort", Desc: "packet identifier cut", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 1, // fixed header
			0, // half a packet identifier
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPubackInvalidPacketIDZero", Desc: "packet identifier 0 (§2.2.1)", Version: codec.Version311, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 2, // fixed header
			0, 0, // packet identifier 0
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPubackInvalidReason", Desc: "0x92 is not a PUBACK reason code [MQTT-3.4.2-1]", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 3, // fixed header
			0, 11, // packet identifier
			0x92, // reason code: not allowed in PUBACK
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPubrelInvalidReason", Desc: "0x10 is not a PUBREL reason code [MQTT-3.6.2-1]", Version: codec.Version5, Type: codec.PUBREL,
		Raw: []byte{
			0x62, 3, // fixed header
			0, 13, // packet identifier
			0x10, // reason code: not allowed in PUBREL
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPubackInvalidPropSessionExpiry", Desc: "Session Expiry is not a PUBACK property (§2.2.2.2)", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 9, // fixed header
			0, 11, // packet identifier
			0x00,             // reason code
			5,                // properties length
			0x11, 0, 0, 0, 1, // session expiry
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPubackMalTrailing", Desc: "a byte after the properties", Version: codec.Version5, Type: codec.PUBACK,
		Raw: []byte{
			0x40, 5, // fixed header
			0, 11, // packet identifier
			0x00, // reason code
			0,    // properties length
			0xAA, // trailing byte
		},
		Fail: true, Err: mal,
	},
}
