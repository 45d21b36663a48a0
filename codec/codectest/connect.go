package codectest

import "github.com/cp7/cp7/codec"

const (
	mal   = codec.MalformedPacket
	proto = codec.ProtocolError
)

// Connect holds CONNECT vectors (3.1.1 §3.1, 5.0 §3.1).
var Connect = []Case{
	{
		Name: "TConnectMqtt31", Desc: "MQTT 3.1 (MQIsdp, level 3), clean session", Version: codec.Version31, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 17, // fixed header: CONNECT, remaining length
			0, 6, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name
			3,     // protocol level
			0x02,  // flags: clean session
			0, 30, // keep alive 30 s
			0, 3, 'z', 'e', 'n', // client id
		},
		Packet: &codec.Connect{ProtocolName: b("MQIsdp"), ProtocolVersion: 3, CleanStart: true, KeepAlive: 30, ClientID: b("zen")},
	},
	{
		Name: "TConnectMqtt311", Desc: "MQTT 3.1.1, clean session", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 15, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0x02,  // flags: clean session
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 4, CleanStart: true, KeepAlive: 60, ClientID: b("zen")},
	},
	{
		Name: "TConnectZeroLenClientID", Desc: "empty client id decodes; the server decides", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 12, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,    // protocol level
			0x02, // flags: clean session
			0, 0, // keep alive 0
			0, 0, // client id: empty
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 4, CleanStart: true, ClientID: b("")},
	},
	{
		Name: "TConnectUserPass", Desc: "user name and password", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 26, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0xC2,  // flags: user name, password, clean session
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 5, 'm', 'o', 'c', 'h', 'i', // user name
			0, 2, 'p', 'w', // password
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 4, CleanStart: true, KeepAlive: 60, ClientID: b("zen"),
			UsernameFlag: true, Username: b("mochi"), PasswordFlag: true, Password: b("pw")},
	},
	{
		Name: "TConnectWill", Desc: "will QoS 1, retained, no clean session", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 25, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0x2C,  // flags: will retain, will QoS 1, will flag
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 3, 'l', 'w', 't', // will topic
			0, 3, 'b', 'y', 'e', // will payload
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 4, KeepAlive: 60, ClientID: b("zen"),
			WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: b("lwt"), WillPayload: b("bye")},
	},
	{
		Name: "TConnectWillFull", Desc: "will QoS 2 with user name and password", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 36, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0xD6,  // flags: user name, password, will QoS 2, will flag, clean session
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 3, 'l', 'w', 't', // will topic
			0, 3, 'b', 'y', 'e', // will payload
			0, 5, 'm', 'o', 'c', 'h', 'i', // user name
			0, 2, 'p', 'w', // password
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 4, CleanStart: true, KeepAlive: 60, ClientID: b("zen"),
			WillFlag: true, WillQoS: 2, WillTopic: b("lwt"), WillPayload: b("bye"),
			UsernameFlag: true, Username: b("mochi"), PasswordFlag: true, Password: b("pw")},
	},
	{
		Name: "TConnectMqtt5", Desc: "MQTT 5, no properties", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 16, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5,     // protocol level
			0x02,  // flags: clean start
			0, 60, // keep alive
			0,                   // properties length
			0, 3, 'z', 'e', 'n', // client id
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 5, CleanStart: true, KeepAlive: 60, ClientID: b("zen")},
	},
	{
		Name: "TConnectV5Props", Desc: "every CONNECT property", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 57, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5,     // protocol level
			0x02,  // flags: clean start
			0, 60, // keep alive
			41,                 // properties length
			0x11, 0, 0, 0, 120, // session expiry interval 120
			0x15, 0, 5, 'S', 'C', 'R', 'A', 'M', // authentication method
			0x16, 0, 3, 'x', 'y', 'z', // authentication data
			0x17, 1, // request problem information
			0x19, 1, // request response information
			0x21, 0, 10, // receive maximum 10
			0x22, 0, 5, // topic alias maximum 5
			0x26, 0, 1, 'a', 0, 1, 'b', // user property a=b
			0x27, 0, 0, 0x10, 0, // maximum packet size 4096
			0, 3, 'z', 'e', 'n', // client id
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 5, CleanStart: true, KeepAlive: 60, ClientID: b("zen"),
			Props: codec.Properties{
				Present: present(codec.PropSessionExpiry, codec.PropAuthMethod, codec.PropAuthData, codec.PropRequestProblemInfo,
					codec.PropRequestResponseInfo, codec.PropReceiveMaximum, codec.PropTopicAliasMaximum, codec.PropUser,
					codec.PropMaximumPacketSize),
				SessionExpiry: 120, AuthMethod: b("SCRAM"), AuthData: b("xyz"), RequestProblemInfo: 1, RequestResponseInfo: 1,
				ReceiveMaximum: 10, TopicAliasMaximum: 5, User: []codec.UserProperty{{Key: b("a"), Value: b("b")}},
				MaximumPacketSize: 4096,
			}},
	},
	{
		Name: "TConnectV5Will", Desc: "every will property, user name and password", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 70, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5,     // protocol level
			0xCE,  // flags: user name, password, will QoS 1, will flag, clean start
			0, 60, // keep alive
			0,                   // properties length
			0, 3, 'z', 'e', 'n', // client id
			37,      // will properties length
			0x01, 1, // payload format indicator: UTF-8
			0x02, 0, 0, 0, 60, // message expiry interval 60
			0x03, 0, 4, 't', 'e', 'x', 't', // content type
			0x08, 0, 3, 'r', '/', 't', // response topic
			0x09, 0, 2, 'c', 'd', // correlation data
			0x18, 0, 0, 0, 5, // will delay interval 5
			0x26, 0, 1, 'k', 0, 1, 'v', // user property k=v
			0, 3, 'l', 'w', 't', // will topic
			0, 3, 'b', 'y', 'e', // will payload
			0, 1, 'u', // user name
			0, 1, 'p', // password
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 5, CleanStart: true, KeepAlive: 60, ClientID: b("zen"),
			WillFlag: true, WillQoS: 1, WillTopic: b("lwt"), WillPayload: b("bye"),
			WillProps: codec.Properties{
				Present: present(codec.PropPayloadFormat, codec.PropMessageExpiry, codec.PropContentType, codec.PropResponseTopic,
					codec.PropCorrelationData, codec.PropWillDelay, codec.PropUser),
				PayloadFormat: 1, MessageExpiry: 60, ContentType: b("text"), ResponseTopic: b("r/t"), CorrelationData: b("cd"),
				WillDelay: 5, User: []codec.UserProperty{{Key: b("k"), Value: b("v")}},
			},
			UsernameFlag: true, Username: b("u"), PasswordFlag: true, Password: b("p")},
	},
	{
		Name: "TConnectV5PasswordOnly", Desc: "MQTT 5 allows a password without a user name", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 19, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5,     // protocol level
			0x42,  // flags: password, clean start
			0, 60, // keep alive
			0,                   // properties length
			0, 3, 'z', 'e', 'n', // client id
			0, 1, 'p', // password
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 5, CleanStart: true, KeepAlive: 60, ClientID: b("zen"),
			PasswordFlag: true, Password: b("p")},
	},

	// Malformed and invalid.
	{
		Name: "TConnectMalProtocolName", Desc: "unknown protocol name [MQTT-3.1.2-1]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 15, // fixed header
			0, 4, 'M', 'Q', 'T', 'X', // protocol name: not MQTT
			4, 0x02, 0, 60, // level, flags, keep alive
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectInvalidProtocolVersion", Desc: "MQTT with level 6: CONNACK 0x84/0x01 [MQTT-3.1.2-2]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 15, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			6,           // protocol level: unknown
			0x02, 0, 60, // flags, keep alive
			0, 3, 'z', 'e', 'n', // client id
		},
		Packet: &codec.Connect{ProtocolName: b("MQTT"), ProtocolVersion: 6},
		Fail:   true, Err: codec.UnsupportedProtocolVersion,
	},
	{
		Name: "TConnectInvalidProtocolVersionMQIsdp", Desc: "MQIsdp with level 4 [MQTT-3.1.2-2]", Version: codec.Version31, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 17, // fixed header
			0, 6, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name
			4,           // protocol level: MQIsdp is only 3
			0x02, 0, 60, // flags, keep alive
			0, 3, 'z', 'e', 'n', // client id
		},
		Packet: &codec.Connect{ProtocolName: b("MQIsdp"), ProtocolVersion: 4},
		Fail:   true, Err: codec.UnsupportedProtocolVersion,
	},
	{
		Name: "TConnectMalReservedBit", Desc: "reserved flag bit set [MQTT-3.1.2-3]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 15, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0x03,  // flags: clean session + reserved
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalWillQos3", Desc: "will QoS 3 [MQTT-3.1.2-14]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 25, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0x1E,  // flags: will QoS 3, will flag, clean session
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 3, 'l', 'w', 't', // will topic
			0, 3, 'b', 'y', 'e', // will payload
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalWillQosNoFlag", Desc: "will QoS without will flag [MQTT-3.1.2-13]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 15, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0x0A,  // flags: will QoS 1 but no will flag, clean session
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalWillRetainNoFlag", Desc: "will retain without will flag [MQTT-3.1.2-11]", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 16, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5,     // protocol level
			0x22,  // flags: will retain but no will flag, clean start
			0, 60, // keep alive
			0,                   // properties length
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalPasswordNoUser", Desc: "3.1.1 password flag without user name flag [MQTT-3.1.2-22]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 18, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4,     // protocol level
			0x42,  // flags: password, clean session
			0, 60, // keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 1, 'p', // password
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalClientIDUTF8", Desc: "client id is ill-formed UTF-8 [MQTT-1.5.3-1]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 14, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, 0x02, 0, 60, // level, flags, keep alive
			0, 2, 0xC3, 0x28, // client id: bad continuation byte
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalClientIDNull", Desc: "client id contains U+0000 [MQTT-1.5.3-2]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 15, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, 0x02, 0, 60, // level, flags, keep alive
			0, 3, 'a', 0, 'b', // client id with a NUL
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalWillTopicUTF8", Desc: "will topic is a UTF-16 surrogate [MQTT-1.5.3-1]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 25, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, 0x06, 0, 60, // level, flags: will flag, clean session; keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 3, 0xED, 0xA0, 0x80, // will topic: U+D800 encoded
			0, 3, 'b', 'y', 'e', // will payload
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalUsernameUTF8", Desc: "user name is ill-formed UTF-8 [MQTT-1.5.3-1]", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 18, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, 0x82, 0, 60, // level, flags: user name, clean session; keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 1, 0xFF, // user name: 0xFF never appears in UTF-8
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalTrailing", Desc: "a byte after the last field", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 16, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, 0x02, 0, 60, // level, flags, keep alive
			0, 3, 'z', 'e', 'n', // client id
			0xAA, // trailing byte
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalShortClientID", Desc: "client id shorter than its length", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 13, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, 0x02, 0, 60, // level, flags, keep alive
			0, 3, 'z', // client id: 1 of 3 bytes
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalShortFlags", Desc: "body ends after the protocol level", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 7, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, // protocol level; no flags
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalMissingPassword", Desc: "password flag set but no password", Version: codec.Version311, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 18, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			4, 0xC2, 0, 60, // level, flags: user name, password, clean session; keep alive
			0, 3, 'z', 'e', 'n', // client id
			0, 1, 'u', // user name; password missing
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectInvalidPropTopicAlias", Desc: "Topic Alias is not a CONNECT property (§2.2.2.2)", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 19, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			3,          // properties length
			0x23, 0, 1, // topic alias 1: not allowed here
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectInvalidWillPropSessionExpiry", Desc: "Session Expiry is not a will property (§2.2.2.2)", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 32, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x06, 0, 60, // level, flags: will flag, clean start; keep alive
			0,                   // properties length
			0, 3, 'z', 'e', 'n', // client id
			5,                // will properties length
			0x11, 0, 0, 0, 1, // session expiry: not allowed in will properties
			0, 3, 'l', 'w', 't', // will topic
			0, 3, 'b', 'y', 'e', // will payload
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectInvalidPropDuplicate", Desc: "Session Expiry twice (§2.2.2.2)", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 26, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			10,               // properties length
			0x11, 0, 0, 0, 1, // session expiry 1
			0x11, 0, 0, 0, 2, // session expiry again
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectInvalidReceiveMaximumZero", Desc: "Receive Maximum 0 (§3.1.2.11.3)", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 19, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			3,          // properties length
			0x21, 0, 0, // receive maximum 0
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectInvalidMaximumPacketSizeZero", Desc: "Maximum Packet Size 0 (§3.1.2.11.4)", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 21, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			5,                // properties length
			0x27, 0, 0, 0, 0, // maximum packet size 0
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectInvalidRequestProblemInfo", Desc: "Request Problem Information 2 (§3.1.2.11.7)", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 18, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			2,       // properties length
			0x17, 2, // request problem information 2
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectInvalidRequestResponseInfo", Desc: "Request Response Information 2 (§3.1.2.11.6)", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 18, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			2,       // properties length
			0x19, 2, // request response information 2
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TConnectMalPropUnknown", Desc: "property identifier 0x04 does not exist", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 18, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			2,       // properties length
			0x04, 1, // unknown property
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalPropLength", Desc: "properties length runs past the packet", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 13, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			20,      // properties length: 20, but 2 bytes follow
			0x21, 0, // receive maximum, cut
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalPropTruncated", Desc: "a uint32 property cut by the properties length", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 21, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			3,          // properties length: 3, but session expiry needs 5
			0x11, 0, 0, // session expiry, cut
			0, 0, // (read as part of the cut property if not bounded)
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalAuthMethodUTF8", Desc: "Authentication Method is ill-formed UTF-8", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 20, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			4,                // properties length
			0x15, 0, 1, 0x80, // authentication method: lone continuation byte
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TConnectMalUserPropUTF8", Desc: "User Property value contains U+0000", Version: codec.Version5, Type: codec.CONNECT,
		Raw: []byte{
			0x10, 23, // fixed header
			0, 4, 'M', 'Q', 'T', 'T', // protocol name
			5, 0x02, 0, 60, // level, flags, keep alive
			7,                        // properties length
			0x26, 0, 1, 'k', 0, 1, 0, // user property k=NUL
			0, 3, 'z', 'e', 'n', // client id
		},
		Fail: true, Err: mal,
	},
}
