package codectest

import (
	"bytes"

	"github.com/cp7/cp7/codec"
)

// payload200 makes a packet whose remaining length needs two varint bytes.
var payload200 = bytes.Repeat([]byte{'x'}, 200)

// Publish holds PUBLISH vectors (3.1.1 §3.3, 5.0 §3.3).
var Publish = []Case{
	{
		Name: "TPublishBasic", Desc: "QoS 0", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 12, // fixed header: PUBLISH, QoS 0
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{Topic: b("a/b/c"), Payload: b("hello")},
	},
	{
		Name: "TPublishRetain", Desc: "QoS 0 retained", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x31, 12, // fixed header: PUBLISH, retain
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{Retain: true, Topic: b("a/b/c"), Payload: b("hello")},
	},
	{
		Name: "TPublishQos1", Desc: "QoS 1", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x32, 14, // fixed header: PUBLISH, QoS 1
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			0, 7, // packet identifier
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{QoS: 1, Topic: b("a/b/c"), PacketID: 7, Payload: b("hello")},
	},
	{
		Name: "TPublishQos2Dup", Desc: "QoS 2 redelivery", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x3C, 14, // fixed header: PUBLISH, DUP, QoS 2
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			0x12, 0x34, // packet identifier
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{Dup: true, QoS: 2, Topic: b("a/b/c"), PacketID: 0x1234, Payload: b("hello")},
	},
	{
		Name: "TPublishEmptyPayload", Desc: "zero-length payload (deletes a retained message)", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x31, 7, // fixed header: PUBLISH, retain
			0, 5, 'a', '/', 'b', '/', 'c', // topic name; no payload
		},
		Packet: &codec.Publish{Retain: true, Topic: b("a/b/c")},
	},
	{
		Name: "TPublishUTF8Topic", Desc: "multi-byte UTF-8 topic", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 8, // fixed header
			0, 5, 0xC3, 0xA9, '/', 0xC3, 0xBC, // topic name "é/ü"
			'x', // payload
		},
		Packet: &codec.Publish{Topic: b("é/ü"), Payload: b("x")},
	},
	{
		Name: "TPublishRemaining2Bytes", Desc: "remaining length 207 takes two varint bytes", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: append([]byte{
			0x30, 0xCF, 0x01, // fixed header: remaining length 207
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
		}, payload200...), // payload: 200 × 'x'
		Packet: &codec.Publish{Topic: b("a/b/c"), Payload: payload200},
	},
	{
		Name: "TPublishMqtt5", Desc: "MQTT 5, QoS 0, no properties", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 13, // fixed header
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			0,                       // properties length
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{Topic: b("a/b/c"), Payload: b("hello")},
	},
	{
		Name: "TPublishQos1Mqtt5", Desc: "MQTT 5, QoS 1, no properties", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x32, 15, // fixed header: QoS 1
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			0, 7, // packet identifier
			0,                       // properties length
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{QoS: 1, Topic: b("a/b/c"), PacketID: 7, Payload: b("hello")},
	},
	{
		Name: "TPublishV5Props", Desc: "every PUBLISH property, two subscription ids and two user properties", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x32, 70, // fixed header: QoS 1
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			0, 9, // packet identifier
			55,      // properties length
			0x01, 1, // payload format indicator: UTF-8
			0x02, 0, 0, 0x0E, 0x10, // message expiry interval 3600
			0x03, 0, 10, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n', // content type
			0x08, 0, 4, 'r', 'e', 's', 'p', // response topic
			0x09, 0, 3, 'i', 'd', '1', // correlation data
			0x0B, 5, // subscription identifier 5
			0x0B, 0xAC, 0x02, // subscription identifier 300
			0x23, 0, 3, // topic alias 3
			0x26, 0, 1, 'k', 0, 1, 'v', // user property k=v
			0x26, 0, 1, 'k', 0, 1, 'w', // user property k=w (repeats allowed)
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{QoS: 1, Topic: b("a/b/c"), PacketID: 9, Payload: b("hello"),
			Props: codec.Properties{
				Present: present(codec.PropPayloadFormat, codec.PropMessageExpiry, codec.PropContentType, codec.PropResponseTopic,
					codec.PropCorrelationData, codec.PropSubscriptionID, codec.PropTopicAlias, codec.PropUser),
				PayloadFormat: 1, MessageExpiry: 3600, ContentType: b("text/plain"), ResponseTopic: b("resp"),
				CorrelationData: b("id1"), SubscriptionIDs: []uint32{5, 300}, TopicAlias: 3,
				User: []codec.UserProperty{{Key: b("k"), Value: b("v")}, {Key: b("k"), Value: b("w")}},
			}},
	},
	{
		Name: "TPublishV5TopicAlias", Desc: "empty topic standing for topic alias 1 (§3.3.2.3.4)", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 11, // fixed header
			0, 0, // topic name: empty
			3,          // properties length
			0x23, 0, 1, // topic alias 1
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Packet: &codec.Publish{Topic: b(""), Payload: b("hello"),
			Props: codec.Properties{Present: present(codec.PropTopicAlias), TopicAlias: 1}},
	},

	// Malformed and invalid.
	{
		Name: "TPublishMalQos3", Desc: "QoS bits 11 [MQTT-3.3.1-4]", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x36, 14, // fixed header: QoS 3
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			0, 7, // packet identifier
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishMalDupQos0", Desc: "DUP on QoS 0 [MQTT-3.3.1-2]", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x38, 12, // fixed header: DUP, QoS 0
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishInvalidPacketIDZero", Desc: "QoS 1 with packet identifier 0 [MQTT-2.2.1-3]", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x32, 14, // fixed header: QoS 1
			0, 5, 'a', '/', 'b', '/', 'c', // topic name
			0, 0, // packet identifier 0
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPublishMalTopicUTF8", Desc: "topic is ill-formed UTF-8 [MQTT-3.3.2-1]", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 6, // fixed header
			0, 3, 'a', '/', 0xFF, // topic name with 0xFF
			'x', // payload
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishMalTopicNull", Desc: "topic contains U+0000 [MQTT-1.5.3-2]", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 6, // fixed header
			0, 2, 'a', 0, // topic name with NUL
			0,   // properties length
			'x', // payload
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishInvalidTopicWildcardPlus", Desc: "'+' in a topic name [MQTT-3.3.2-2]", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 6, // fixed header
			0, 3, 'a', '/', '+', // topic name with a wildcard
			'x', // payload
		},
		Fail: true, Err: codec.TopicNameInvalid,
	},
	{
		Name: "TPublishInvalidTopicWildcardHash", Desc: "'#' after a multi-byte character [MQTT-3.3.2-2]", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 8, // fixed header
			0, 4, 0xC3, 0xA9, '/', '#', // topic name "é/#"
			0,   // properties length
			'x', // payload
		},
		Fail: true, Err: codec.TopicNameInvalid,
	},
	{
		Name: "TPublishInvalidEmptyTopic", Desc: "empty topic in 3.1.1 [MQTT-4.7.3-1]", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 7, // fixed header
			0, 0, // topic name: empty
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPublishInvalidEmptyTopicNoAlias", Desc: "empty topic in MQTT 5 without a topic alias [MQTT-4.7.3-1]", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 8, // fixed header
			0, 0, // topic name: empty
			0,                       // properties length
			'h', 'e', 'l', 'l', 'o', // payload
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPublishInvalidTopicAliasZero", Desc: "Topic Alias 0 (§3.3.2.3.4)", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 10, // fixed header
			0, 1, 'a', // topic name
			3,          // properties length
			0x23, 0, 0, // topic alias 0
			'x', 'y', 'z', // payload
		},
		Fail: true, Err: codec.TopicAliasInvalid, // [MQTT-3.3.2-8]: DISCONNECT 0x94
	},
	{
		Name: "TPublishInvalidPayloadFormat", Desc: "Payload Format Indicator 2 (§3.3.2.3.2)", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 6, // fixed header
			0, 1, 'a', // topic name
			2,       // properties length
			0x01, 2, // payload format indicator 2
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPublishInvalidPropSessionExpiry", Desc: "Session Expiry is not a PUBLISH property (§2.2.2.2)", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 9, // fixed header
			0, 1, 'a', // topic name
			5,                // properties length
			0x11, 0, 0, 0, 1, // session expiry
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPublishInvalidPropDuplicate", Desc: "Message Expiry twice (§2.2.2.2)", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 14, // fixed header
			0, 1, 'a', // topic name
			10,               // properties length
			0x02, 0, 0, 0, 1, // message expiry 1
			0x02, 0, 0, 0, 2, // message expiry again
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPublishInvalidSubIDZero", Desc: "Subscription Identifier 0 (§3.3.2.3.8)", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 6, // fixed header
			0, 1, 'a', // topic name
			2,       // properties length
			0x0B, 0, // subscription identifier 0
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TPublishMalSubIDNotMinimal", Desc: "Subscription Identifier 5 in two varint bytes [MQTT-1.5.5-1]", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 7, // fixed header
			0, 1, 'a', // topic name
			3,                // properties length
			0x0B, 0x85, 0x00, // subscription identifier 5, overlong
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishMalContentTypeUTF8", Desc: "Content Type is ill-formed UTF-8", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 9, // fixed header
			0, 1, 'a', // topic name
			5,                      // properties length
			0x03, 0, 2, 0xE2, 0x82, // content type: truncated 3-byte sequence
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishMalUserPropShort", Desc: "User Property value cut by the properties length", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 11, // fixed header
			0, 1, 'a', // topic name
			6,                     // properties length
			0x26, 0, 1, 'k', 0, 1, // user property, value cut
			'v', // payload (would be the value if the block were not bounded)
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishMalShortTopic", Desc: "topic shorter than its length", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 3, // fixed header
			0, 5, 'a', // topic name: 1 of 5 bytes
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishMalNoPacketID", Desc: "QoS 1 body ends after the topic", Version: codec.Version311, Type: codec.PUBLISH,
		Raw: []byte{
			0x32, 7, // fixed header: QoS 1
			0, 5, 'a', '/', 'b', '/', 'c', // topic name; packet identifier missing
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TPublishMalNoPropLength", Desc: "MQTT 5 body ends before the properties length", Version: codec.Version5, Type: codec.PUBLISH,
		Raw: []byte{
			0x30, 3, // fixed header
			0, 1, 'a', // topic name; properties length missing
		},
		Fail: true, Err: mal,
	},
}
