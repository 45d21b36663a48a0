package codectest

import "github.com/cp7/cp7/codec"

// FixedHeader holds vectors that fail (or are incomplete) in the fixed
// header itself (§2.1).
var FixedHeader = []Case{
	{
		Name: "TFixedMalType0", Desc: "packet type 0 is reserved", Version: codec.Version311, Type: 0,
		Raw:  []byte{0x00, 0}, // fixed header: type 0
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalRemainingTooLong", Desc: "remaining length in 5 bytes (§1.5.5)", Version: codec.Version311, Type: codec.PUBLISH,
		Raw:  []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, // fixed header: fifth varint byte
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalRemainingNotMinimal", Desc: "remaining length 0 in 2 bytes [MQTT-1.5.5-1]", Version: codec.Version5, Type: codec.PINGREQ,
		Raw:  []byte{0xC0, 0x80, 0x00}, // fixed header: PINGREQ, overlong 0
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalPubrelFlags", Desc: "PUBREL flags 0000 [MQTT-3.6.1-1]", Version: codec.Version311, Type: codec.PUBREL,
		Raw:  []byte{0x60, 2, 0, 1}, // fixed header: PUBREL, flags 0000; packet identifier
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalSubscribeFlags", Desc: "SUBSCRIBE flags 0000 [MQTT-3.8.1-1]", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw:  []byte{0x80, 6, 0, 1, 0, 1, 'a', 0}, // fixed header: SUBSCRIBE, flags 0000; id, filter, options
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalUnsubscribeFlags", Desc: "UNSUBSCRIBE flags 0000 [MQTT-3.10.1-1]", Version: codec.Version311, Type: codec.UNSUBSCRIBE,
		Raw:  []byte{0xA0, 5, 0, 1, 0, 1, 'a'}, // fixed header: UNSUBSCRIBE, flags 0000; id, filter
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalPubackFlags", Desc: "PUBACK flags 0001 [MQTT-2.2.2-2]", Version: codec.Version311, Type: codec.PUBACK,
		Raw:  []byte{0x41, 2, 0, 1}, // fixed header: PUBACK, flags 0001; packet identifier
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalConnectFlags", Desc: "CONNECT flags 0010 [MQTT-2.2.2-2]", Version: codec.Version311, Type: codec.CONNECT,
		Raw:  []byte{0x12, 0}, // fixed header: CONNECT, flags 0010
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedMalPingreqFlags", Desc: "PINGREQ flags 1000 [MQTT-2.2.2-2]", Version: codec.Version311, Type: codec.PINGREQ,
		Raw:  []byte{0xC8, 0}, // fixed header: PINGREQ, flags 1000
		Fail: true, Err: mal,
	},
	{
		Name: "TFixedIncompleteOneByte", Desc: "only the first byte", Version: codec.Version311, Type: codec.PUBLISH,
		Raw:        []byte{0x30}, // fixed header: no remaining length yet
		Incomplete: true,
	},
	{
		Name: "TFixedIncompleteVarInt", Desc: "remaining length cut after a continuation byte", Version: codec.Version311, Type: codec.PUBLISH,
		Raw:        []byte{0x30, 0x80}, // fixed header: varint continues
		Incomplete: true,
	},
	{
		Name: "TFixedIncompleteVarInt4", Desc: "remaining length cut after three continuation bytes", Version: codec.Version311, Type: codec.PUBLISH,
		Raw:        []byte{0x30, 0xFF, 0xFF, 0xFF}, // fixed header: fourth byte missing
		Incomplete: true,
	},
}

// Connack holds CONNACK vectors (3.1.1 §3.2, 5.0 §3.2).
var Connack = []Case{
	{
		Name: "TConnackAcceptedNoSession", Version: codec.Version311, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 2, // fixed header
			0, // acknowledge flags: no session present
			0, // return code: accepted
		},
		Packet: &codec.Connack{},
	},
	{
		Name: "TConnackSessionPresent", Version: codec.Version311, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 2, // fixed header
			1, // acknowledge flags: session present
			0, // return code: accepted
		},
		Packet: &codec.Connack{SessionPresent: true},
	},
	{
		Name: "TConnackBadUsernamePassword", Version: codec.Version311, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 2, // fixed header
			0, // acknowledge flags
			4, // return code: bad user name or password
		},
		Packet: &codec.Connack{ReasonCode: codec.ReasonCode(codec.ConnRefusedBadUsernamePassword)},
	},
	{
		Name: "TConnackMqtt5", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 3, // fixed header
			0, // acknowledge flags
			0, // reason code: success
			0, // properties length
		},
		Packet: &codec.Connack{},
	},
	{
		Name: "TConnackV5NotAuthorized", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 3, // fixed header
			0,    // acknowledge flags
			0x87, // reason code: not authorized
			0,    // properties length
		},
		Packet: &codec.Connack{ReasonCode: codec.NotAuthorized},
	},
	{
		Name: "TConnackV5NoPropLength", Desc: "v5 CONNACK without a properties length is accepted", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 2, // fixed header
			0, // acknowledge flags
			0, // reason code; properties length omitted
		},
		Packet:     &codec.Connack{},
		DecodeOnly: true,
	},
	{
		Name: "TConnackV5Props", Desc: "every CONNACK property", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 68, // fixed header
			1,                 // acknowledge flags: session present
			0,                 // reason code: success
			65,                // properties length
			0x11, 0, 0, 0, 60, // session expiry interval 60
			0x12, 0, 3, 'c', 'i', 'd', // assigned client identifier
			0x13, 0, 30, // server keep alive 30
			0x15, 0, 1, 'm', // authentication method
			0x16, 0, 1, 'd', // authentication data
			0x1A, 0, 2, 'r', 'i', // response information
			0x1C, 0, 2, 's', 'r', // server reference
			0x1F, 0, 2, 'o', 'k', // reason string
			0x21, 0, 20, // receive maximum 20
			0x22, 0, 8, // topic alias maximum 8
			0x24, 1, // maximum QoS 1
			0x25, 0, // retain available: no
			0x26, 0, 1, 'k', 0, 1, 'v', // user property
			0x27, 0, 1, 0, 0, // maximum packet size 65536
			0x28, 0, // wildcard subscription available: no
			0x29, 0, // subscription identifiers available: no
			0x2A, 1, // shared subscription available: yes
		},
		Packet: &codec.Connack{SessionPresent: true, Props: codec.Properties{
			Present: present(codec.PropSessionExpiry, codec.PropAssignedClientID, codec.PropServerKeepAlive, codec.PropAuthMethod,
				codec.PropAuthData, codec.PropResponseInfo, codec.PropServerReference, codec.PropReasonString,
				codec.PropReceiveMaximum, codec.PropTopicAliasMaximum, codec.PropMaximumQoS, codec.PropRetainAvailable,
				codec.PropUser, codec.PropMaximumPacketSize, codec.PropWildcardSubAvailable, codec.PropSubIDAvailable,
				codec.PropSharedSubAvailable),
			SessionExpiry: 60, AssignedClientID: b("cid"), ServerKeepAlive: 30, AuthMethod: b("m"), AuthData: b("d"),
			ResponseInfo: b("ri"), ServerReference: b("sr"), ReasonString: b("ok"), ReceiveMaximum: 20,
			TopicAliasMaximum: 8, MaximumQoS: 1, RetainAvailable: 0,
			User:              []codec.UserProperty{{Key: b("k"), Value: b("v")}},
			MaximumPacketSize: 65536, WildcardSubAvailable: 0, SubIDAvailable: 0, SharedSubAvailable: 1,
		}},
	},

	// Malformed and invalid.
	{
		Name: "TConnackMalFlags", Desc: "reserved acknowledge flag bits [MQTT-3.2.2-1]", Version: codec.Version311, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 2, // fixed header
			2, // acknowledge flags: reserved bit 1
			0, // return code
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnackInvalidV3Code", Desc: "3.1.1 return code 6 is reserved", Version: codec.Version311, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 2, // fixed header
			0, // acknowledge flags
			6, // return code: reserved
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackMalV3Length", Desc: "3.1.1 CONNACK with remaining length 3", Version: codec.Version311, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 3, // fixed header
			0, 0, // acknowledge flags, return code
			0, // extra byte
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnackInvalidV5Code", Desc: "0x10 is not a CONNACK reason code", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 3, // fixed header
			0,    // acknowledge flags
			0x10, // reason code: not allowed
			0,    // properties length
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackInvalidPropTopicAlias", Desc: "Topic Alias is not a CONNACK property (§2.2.2.2)", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 6, // fixed header
			0, 0, // acknowledge flags, reason code
			3,          // properties length
			0x23, 0, 1, // topic alias
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackInvalidMaximumQoS", Desc: "Maximum QoS 2 (§3.2.2.3.4)", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 5, // fixed header
			0, 0, // acknowledge flags, reason code
			2,       // properties length
			0x24, 2, // maximum QoS 2
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackInvalidRetainAvailable", Desc: "Retain Available 2 (§3.2.2.3.5)", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 5, // fixed header
			0, 0, // acknowledge flags, reason code
			2,       // properties length
			0x25, 2, // retain available 2
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackInvalidWildcardSubAvailable", Desc: "Wildcard Subscription Available 2 (§3.2.2.3.11)", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 5, // fixed header
			0, 0, // acknowledge flags, reason code
			2,       // properties length
			0x28, 2, // wildcard subscription available 2
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackInvalidSubIDAvailable", Desc: "Subscription Identifiers Available 2 (§3.2.2.3.12)", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 5, // fixed header
			0, 0, // acknowledge flags, reason code
			2,       // properties length
			0x29, 2, // subscription identifiers available 2
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackInvalidSharedSubAvailable", Desc: "Shared Subscription Available 2 (§3.2.2.3.13)", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 5, // fixed header
			0, 0, // acknowledge flags, reason code
			2,       // properties length
			0x2A, 2, // shared subscription available 2
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnackInvalidReceiveMaximumZero", Desc: "Receive Maximum 0 (§3.2.2.3.3)", Version: codec.Version5, Type: codec.CONNACK,
		Raw: []byte{
			0x20, 6, // fixed header
			0, 0, // acknowledge flags, reason code
			3,          // properties length
			0x21, 0, 0, // receive maximum 0
		},
		Fail: true, Err: proto,
	},
}

// Disconnect holds DISCONNECT vectors (3.1.1 §3.14, 5.0 §3.14).
var Disconnect = []Case{
	{
		Name: "TDisconnect", Version: codec.Version311, Type: codec.DISCONNECT,
		Raw:    []byte{0xE0, 0}, // fixed header: DISCONNECT, remaining length 0
		Packet: &codec.Disconnect{},
	},
	{
		Name: "TDisconnectMqtt5", Desc: "remaining length 0 means normal disconnection", Version: codec.Version5, Type: codec.DISCONNECT,
		Raw:    []byte{0xE0, 0}, // fixed header
		Packet: &codec.Disconnect{},
	},
	{
		Name: "TDisconnectV5Reason", Desc: "reason code without properties (§3.14.2.2.1)", Version: codec.Version5, Type: codec.DISCONNECT,
		Raw: []byte{
			0xE0, 1, // fixed header
			0x04, // reason code: disconnect with will message
		},
		Packet: &codec.Disconnect{ReasonCode: codec.DisconnectWithWillMessage},
	},
	{
		Name: "TDisconnectV5Props", Version: codec.Version5, Type: codec.DISCONNECT,
		Raw: []byte{
			0xE0, 26, // fixed header
			0x9C,             // reason code: use another server
			24,               // properties length
			0x11, 0, 0, 0, 0, // session expiry interval 0
			0x1C, 0, 3, 's', 'r', 'v', // server reference
			0x1F, 0, 3, 'b', 'y', 'e', // reason string
			0x26, 0, 1, 'k', 0, 1, 'v', // user property
		},
		Packet: &codec.Disconnect{ReasonCode: codec.UseAnotherServer, Props: codec.Properties{
			Present:         present(codec.PropSessionExpiry, codec.PropServerReference, codec.PropReasonString, codec.PropUser),
			ServerReference: b("srv"), ReasonString: b("bye"), User: []codec.UserProperty{{Key: b("k"), Value: b("v")}},
		}},
	},
	{
		Name: "TDisconnectV5PropLen0", Desc: "reason code and an empty properties block; the encoder omits the block", Version: codec.Version5, Type: codec.DISCONNECT,
		Raw: []byte{
			0xE0, 2, // fixed header
			0x04, // reason code: disconnect with will message
			0,    // properties length
		},
		Packet:     &codec.Disconnect{ReasonCode: codec.DisconnectWithWillMessage},
		DecodeOnly: true,
	},
	{
		Name: "TDisconnectMalV3NotEmpty", Desc: "3.1.1 DISCONNECT has no body", Version: codec.Version311, Type: codec.DISCONNECT,
		Raw: []byte{
			0xE0, 1, // fixed header
			0, // extra byte
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TDisconnectInvalidReason", Desc: "0x18 is not a DISCONNECT reason code [MQTT-3.14.2-1]", Version: codec.Version5, Type: codec.DISCONNECT,
		Raw: []byte{
			0xE0, 1, // fixed header
			0x18, // reason code: continue authentication
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TDisconnectInvalidPropAuthMethod", Desc: "Authentication Method is not a DISCONNECT property (§2.2.2.2)", Version: codec.Version5, Type: codec.DISCONNECT,
		Raw: []byte{
			0xE0, 6, // fixed header
			0x00,            // reason code
			4,               // properties length
			0x15, 0, 1, 'm', // authentication method
		},
		Fail: true, Err: proto,
	},
}

// Auth holds AUTH vectors (5.0 §3.15).
var Auth = []Case{
	{
		Name: "TAuth", Desc: "remaining length 0 means Success (§3.15.2.1)", Version: codec.Version5, Type: codec.AUTH,
		Raw:    []byte{0xF0, 0}, // fixed header
		Packet: &codec.Auth{},
	},
	{
		Name: "TAuthContinue", Version: codec.Version5, Type: codec.AUTH,
		Raw: []byte{
			0xF0, 28, // fixed header
			0x18,                                // reason code: continue authentication
			26,                                  // properties length
			0x15, 0, 5, 'S', 'C', 'R', 'A', 'M', // authentication method
			0x16, 0, 3, 'a', 'b', 'c', // authentication data
			0x1F, 0, 2, 'g', 'o', // reason string
			0x26, 0, 1, 'k', 0, 1, 'v', // user property
		},
		Packet: &codec.Auth{ReasonCode: codec.ContinueAuthentication, Props: codec.Properties{
			Present:    present(codec.PropAuthMethod, codec.PropAuthData, codec.PropReasonString, codec.PropUser),
			AuthMethod: b("SCRAM"), AuthData: b("abc"), ReasonString: b("go"),
			User: []codec.UserProperty{{Key: b("k"), Value: b("v")}},
		}},
	},
	{
		Name: "TAuthReAuthenticate", Version: codec.Version5, Type: codec.AUTH,
		Raw: []byte{
			0xF0, 10, // fixed header
			0x19,                                // reason code: re-authenticate
			8,                                   // properties length
			0x15, 0, 5, 'S', 'C', 'R', 'A', 'M', // authentication method
		},
		Packet: &codec.Auth{ReasonCode: codec.ReAuthenticate, Props: codec.Properties{
			Present: present(codec.PropAuthMethod), AuthMethod: b("SCRAM")}},
	},
	{
		Name: "TAuthInvalidReason", Desc: "0x80 is not an AUTH reason code [MQTT-3.15.2-1]", Version: codec.Version5, Type: codec.AUTH,
		Raw: []byte{
			0xF0, 2, // fixed header
			0x80, // reason code: not allowed
			0,    // properties length
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TAuthMalNoPropLength", Desc: "reason code without a properties length", Version: codec.Version5, Type: codec.AUTH,
		Raw: []byte{
			0xF0, 1, // fixed header
			0x18, // reason code; properties length missing
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TAuthInvalidPropSessionExpiry", Desc: "Session Expiry is not an AUTH property (§2.2.2.2)", Version: codec.Version5, Type: codec.AUTH,
		Raw: []byte{
			0xF0, 7, // fixed header
			0x18,             // reason code
			5,                // properties length
			0x11, 0, 0, 0, 1, // session expiry
		},
		Fail: true, Err: proto,
	},
}

// Ping holds PINGREQ and PINGRESP vectors (§3.12, §3.13).
var Ping = []Case{
	{Name: "TPingreq", Version: codec.Version311, Type: codec.PINGREQ, Raw: []byte{0xC0, 0}},      // fixed header
	{Name: "TPingresp", Version: codec.Version311, Type: codec.PINGRESP, Raw: []byte{0xD0, 0}},    // fixed header
	{Name: "TPingreqMqtt5", Version: codec.Version5, Type: codec.PINGREQ, Raw: []byte{0xC0, 0}},   // fixed header
	{Name: "TPingrespMqtt5", Version: codec.Version5, Type: codec.PINGRESP, Raw: []byte{0xD0, 0}}, // fixed header
	{
		Name: "TPingreqMalRemaining", Desc: "PINGREQ with a body", Version: codec.Version311, Type: codec.PINGREQ,
		Raw: []byte{
			0xC0, 1, // fixed header: remaining length 1
			0, // extra byte
		},
		Fail: true, Err: mal,
	},
}
