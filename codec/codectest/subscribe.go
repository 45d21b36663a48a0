package codectest

import "github.com/cp7/cp7/codec"

// Subscribe holds SUBSCRIBE vectors (3.1.1 §3.8, 5.0 §3.8).
var Subscribe = []Case{
	{
		Name: "TSubscribe", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 10, // fixed header: SUBSCRIBE, flags 0010
			0, 15, // packet identifier
			0, 5, 'a', '/', 'b', '/', 'c', // topic filter
			0, // options: QoS 0
		},
		Packet: &codec.Subscribe{PacketID: 15, Subs: []codec.Subscription{{Filter: b("a/b/c")}}},
	},
	{
		Name: "TSubscribeMany", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 22, // fixed header
			0, 15, // packet identifier
			0, 3, 'a', '/', 'b', // topic filter
			0,                             // options: QoS 0
			0, 5, 'd', '/', 'e', '/', '#', // topic filter
			1,                   // options: QoS 1
			0, 3, '+', '/', 'x', // topic filter
			2, // options: QoS 2
		},
		Packet: &codec.Subscribe{PacketID: 15, Subs: []codec.Subscription{
			{Filter: b("a/b")}, {Filter: b("d/e/#"), QoS: 1}, {Filter: b("+/x"), QoS: 2}}},
	},
	{
		Name: "TSubscribeMqtt5", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 11, // fixed header
			0, 15, // packet identifier
			0,                             // properties length
			0, 5, 'a', '/', 'b', '/', 'c', // topic filter
			0, // options: QoS 0
		},
		Packet: &codec.Subscribe{PacketID: 15, Subs: []codec.Subscription{{Filter: b("a/b/c")}}},
	},
	{
		Name: "TSubscribeV5Options", Desc: "subscription identifier, user property, every option", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 23, // fixed header
			0, 15, // packet identifier
			10,               // properties length
			0x0B, 0xFF, 0x7F, // subscription identifier 16383
			0x26, 0, 1, 'k', 0, 1, 'v', // user property
			0, 3, 'a', '/', 'b', // topic filter
			0x2D,      // options: retain handling 2, retain as published, no local, QoS 1
			0, 1, 'c', // topic filter
			0x12, // options: retain handling 1, QoS 2
		},
		Packet: &codec.Subscribe{PacketID: 15,
			Props: codec.Properties{Present: present(codec.PropSubscriptionID, codec.PropUser), SubscriptionIDs: []uint32{16383},
				User: []codec.UserProperty{{Key: b("k"), Value: b("v")}}},
			Subs: []codec.Subscription{
				{Filter: b("a/b"), QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: b("c"), QoS: 2, RetainHandling: 1}}},
	},

	// Malformed and invalid.
	{
		Name: "TSubscribeInvalidNoFilters", Desc: "no topic filter [MQTT-3.8.3-3]", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 2, // fixed header
			0, 15, // packet identifier; no payload
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TSubscribeInvalidNoFiltersV5", Desc: "no topic filter [MQTT-3.8.3-2]", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 3, // fixed header
			0, 15, // packet identifier
			0, // properties length; no payload
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TSubscribeMalReservedV3", Desc: "3.1.1 option bits above QoS set [MQTT-3.8.3-4]", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 6, // fixed header
			0, 15, // packet identifier
			0, 1, 'a', // topic filter
			0x04, // options: bit 2 is reserved in 3.1.1
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TSubscribeMalReservedV5", Desc: "v5 option bits 6-7 set [MQTT-3.8.3-5]", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 7, // fixed header
			0, 15, // packet identifier
			0,         // properties length
			0, 1, 'a', // topic filter
			0x40, // options: reserved bit 6
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TSubscribeMalQos3", Desc: "requested QoS 3 [MQTT-3.8.3-4]", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 6, // fixed header
			0, 15, // packet identifier
			0, 1, 'a', // topic filter
			3, // options: QoS 3
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TSubscribeMalQos3V5", Desc: "requested QoS 3 (§3.8.3.1)", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 7, // fixed header
			0, 15, // packet identifier
			0,         // properties length
			0, 1, 'a', // topic filter
			3, // options: QoS 3
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TSubscribeInvalidRetainHandling3", Desc: "retain handling 3 (§3.8.3.1)", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 7, // fixed header
			0, 15, // packet identifier
			0,         // properties length
			0, 1, 'a', // topic filter
			0x30, // options: retain handling 3
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TSubscribeMalFilterUTF8", Desc: "filter is ill-formed UTF-8 [MQTT-3.8.3-1]", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 7, // fixed header
			0, 15, // packet identifier
			0, 2, 'a', 0xC0, // topic filter: C0 starts no valid sequence
			0, // options
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TSubscribeMalNoOptions", Desc: "filter without its options byte", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 5, // fixed header
			0, 15, // packet identifier
			0, 1, 'a', // topic filter; options missing
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TSubscribeInvalidPacketIDZero", Desc: "packet identifier 0 [MQTT-2.2.1-3]", Version: codec.Version311, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 6, // fixed header
			0, 0, // packet identifier 0
			0, 1, 'a', // topic filter
			0, // options
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TSubscribeInvalidSubIDTwice", Desc: "two subscription identifiers (§3.8.2.1.2)", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 11, // fixed header
			0, 15, // packet identifier
			4,       // properties length
			0x0B, 1, // subscription identifier 1
			0x0B, 2, // subscription identifier 2
			0, 1, 'a', // topic filter
			0, // options
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TSubscribeInvalidPropTopicAlias", Desc: "Topic Alias is not a SUBSCRIBE property (§2.2.2.2)", Version: codec.Version5, Type: codec.SUBSCRIBE,
		Raw: []byte{
			0x82, 10, // fixed header
			0, 15, // packet identifier
			3,          // properties length
			0x23, 0, 1, // topic alias
			0, 1, 'a', // topic filter
			0, // options
		},
		Fail: true, Err: proto,
	},
}

// Suback holds SUBACK vectors (3.1.1 §3.9, 5.0 §3.9).
var Suback = []Case{
	{
		Name: "TSuback", Version: codec.Version311, Type: codec.SUBACK,
		Raw: []byte{
			0x90, 3, // fixed header
			0, 15, // packet identifier
			0, // return code: QoS 0
		},
		Packet: &codec.Suback{PacketID: 15, ReasonCodes: []codec.ReasonCode{0}},
	},
	{
		Name: "TSubackMany", Version: codec.Version311, Type: codec.SUBACK,
		Raw: []byte{
			0x90, 6, // fixed header
			0, 15, // packet identifier
			0, 1, 2, 0x80, // return codes: QoS 0, 1, 2, failure
		},
		Packet: &codec.Suback{PacketID: 15, ReasonCodes: []codec.ReasonCode{0, 1, 2, 0x80}},
	},
	{
		Name: "TSubackMqtt5", Version: codec.Version5, Type: codec.SUBACK,
		Raw: []byte{
			0x90, 4, // fixed header
			0, 15, // packet identifier
			0, // properties length
			1, // reason code: granted QoS 1
		},
		Packet: &codec.Suback{PacketID: 15, ReasonCodes: []codec.ReasonCode{codec.GrantedQoS1}},
	},
	{
		Name: "TSubackV5Props", Version: codec.Version5, Type: codec.SUBACK,
		Raw: []byte{
			0x90, 17, // fixed header
			0, 15, // packet identifier
			11,              // properties length
			0x1F, 0, 1, 'r', // reason string
			0x26, 0, 1, 'k', 0, 1, 'v', // user property
			0x00, 0x97, 0xA2, // reason codes: QoS 0, quota exceeded, wildcards not supported
		},
		Packet: &codec.Suback{PacketID: 15,
			Props: codec.Properties{Present: present(codec.PropReasonString, codec.PropUser), ReasonString: b("r"),
				User: []codec.UserProperty{{Key: b("k"), Value: b("v")}}},
			ReasonCodes: []codec.ReasonCode{codec.GrantedQoS0, codec.QuotaExceeded, codec.WildcardSubscriptionsNotSupported}},
	},
	{
		Name: "TSubackInvalidV3Code", Desc: "3.1.1 return code 3 [MQTT-3.9.3-2]", Version: codec.Version311, Type: codec.SUBACK,
		Raw: []byte{
			0x90, 3, // fixed header
			0, 15, // packet identifier
			3, // return code: reserved
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TSubackInvalidV5Code", Desc: "0x10 is not a SUBACK reason code", Version: codec.Version5, Type: codec.SUBACK,
		Raw: []byte{
			0x90, 4, // fixed header
			0, 15, // packet identifier
			0,    // properties length
			0x10, // reason code: not allowed
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TSubackInvalidNoCodes", Desc: "no return codes", Version: codec.Version311, Type: codec.SUBACK,
		Raw: []byte{
			0x90, 2, // fixed header
			0, 15, // packet identifier
		},
		Fail: true, Err: proto,
	},
}

// Unsubscribe holds UNSUBSCRIBE vectors (3.1.1 §3.10, 5.0 §3.10).
var Unsubscribe = []Case{
	{
		Name: "TUnsubscribe", Version: codec.Version311, Type: codec.UNSUBSCRIBE,
		Raw: []byte{
			0xA2, 9, // fixed header: UNSUBSCRIBE, flags 0010
			0, 15, // packet identifier
			0, 5, 'a', '/', 'b', '/', 'c', // topic filter
		},
		Packet: &codec.Unsubscribe{PacketID: 15, Filters: [][]byte{b("a/b/c")}},
	},
	{
		Name: "TUnsubscribeMany", Version: codec.Version311, Type: codec.UNSUBSCRIBE,
		Raw: []byte{
			0xA2, 10, // fixed header
			0, 15, // packet identifier
			0, 3, 'a', '/', 'b', // topic filter
			0, 1, '#', // topic filter
		},
		Packet: &codec.Unsubscribe{PacketID: 15, Filters: [][]byte{b("a/b"), b("#")}},
	},
	{
		Name: "TUnsubscribeMqtt5", Version: codec.Version5, Type: codec.UNSUBSCRIBE,
		Raw: []byte{
			0xA2, 15, // fixed header
			0, 15, // packet identifier
			7,                          // properties length
			0x26, 0, 1, 'k', 0, 1, 'v', // user property
			0, 3, 'a', '/', 'b', // topic filter
		},
		Packet: &codec.Unsubscribe{PacketID: 15,
			Props:   codec.Properties{Present: present(codec.PropUser), User: []codec.UserProperty{{Key: b("k"), Value: b("v")}}},
			Filters: [][]byte{b("a/b")}},
	},
	{
		Name: "TUnsubscribeInvalidNoFilters", Desc: "no topic filter [MQTT-3.10.3-2]", Version: codec.Version311, Type: codec.UNSUBSCRIBE,
		Raw: []byte{
			0xA2, 2, // fixed header
			0, 15, // packet identifier
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TUnsubscribeMalFilterUTF8", Desc: "filter is ill-formed UTF-8 [MQTT-3.10.3-1]", Version: codec.Version5, Type: codec.UNSUBSCRIBE,
		Raw: []byte{
			0xA2, 6, // fixed header
			0, 15, // packet identifier
			0,          // properties length
			0, 1, 0xFE, // topic filter
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TUnsubscribeMalShortFilter", Desc: "filter shorter than its length", Version: codec.Version311, Type: codec.UNSUBSCRIBE,
		Raw: []byte{
			0xA2, 5, // fixed header
			0, 15, // packet identifier
			0, 5, 'a', // topic filter: 1 of 5 bytes
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TUnsubscribeInvalidPropReasonString", Desc: "Reason String is not an UNSUBSCRIBE property (§2.2.2.2)", Version: codec.Version5, Type: codec.UNSUBSCRIBE,
		Raw: []byte{
			0xA2, 10, // fixed header
			0, 15, // packet identifier
			4,               // properties length
			0x1F, 0, 1, 'r', // reason string
			0, 1, 'a', // topic filter
		},
		Fail: true, Err: proto,
	},
}

// Unsuback holds UNSUBACK vectors (3.1.1 §3.11, 5.0 §3.11).
var Unsuback = []Case{
	{
		Name: "TUnsuback", Version: codec.Version311, Type: codec.UNSUBACK,
		Raw: []byte{
			0xB0, 2, // fixed header
			0, 15, // packet identifier
		},
		Packet: &codec.Unsuback{PacketID: 15},
	},
	{
		Name: "TUnsubackMqtt5", Version: codec.Version5, Type: codec.UNSUBACK,
		Raw: []byte{
			0xB0, 4, // fixed header
			0, 15, // packet identifier
			0, // properties length
			0, // reason code: success
		},
		Packet: &codec.Unsuback{PacketID: 15, ReasonCodes: []codec.ReasonCode{codec.Success}},
	},
	{
		Name: "TUnsubackV5Props", Version: codec.Version5, Type: codec.UNSUBACK,
		Raw: []byte{
			0xB0, 9, // fixed header
			0, 15, // packet identifier
			4,               // properties length
			0x1F, 0, 1, 'r', // reason string
			0x11, 0x87, // reason codes: no subscription existed, not authorized
		},
		Packet: &codec.Unsuback{PacketID: 15,
			Props:       codec.Properties{Present: present(codec.PropReasonString), ReasonString: b("r")},
			ReasonCodes: []codec.ReasonCode{codec.NoSubscriptionExisted, codec.NotAuthorized}},
	},
	{
		Name: "TUnsubackMalV3Length", Desc: "3.1.1 UNSUBACK has no payload", Version: codec.Version311, Type: codec.UNSUBACK,
		Raw: []byte{
			0xB0, 3, // fixed header
			0, 15, // packet identifier
			0, // extra byte
		},
		Fail: true, Err: mal,
	},
	{
		Name: "TUnsubackInvalidV5Code", Desc: "0x10 is not an UNSUBACK reason code", Version: codec.Version5, Type: codec.UNSUBACK,
		Raw: []byte{
			0xB0, 4, // fixed header
			0, 15, // packet identifier
			0,    // properties length
			0x10, // reason code: not allowed
		},
		Fail: true, Err: proto,
	},
	{
		Name: "TUnsubackInvalidNoCodes", Desc: "v5 UNSUBACK without reason codes", Version: codec.Version5, Type: codec.UNSUBACK,
		Raw: []byte{
			0xB0, 3, // fixed header
			0, 15, // packet identifier
			0, // properties length
		},
		Fail: true, Err: proto,
	},
}
