package codec

import "math/bits"

// PropID is an MQTT 5 property identifier (§2.2.2.2, table 2-4).
type PropID byte

// Property identifiers.
const (
	PropPayloadFormat        PropID = 0x01
	PropMessageExpiry        PropID = 0x02
	PropContentType          PropID = 0x03
	PropResponseTopic        PropID = 0x08
	PropCorrelationData      PropID = 0x09
	PropSubscriptionID       PropID = 0x0B
	PropSessionExpiry        PropID = 0x11
	PropAssignedClientID     PropID = 0x12
	PropServerKeepAlive      PropID = 0x13
	PropAuthMethod           PropID = 0x15
	PropAuthData             PropID = 0x16
	PropRequestProblemInfo   PropID = 0x17
	PropWillDelay            PropID = 0x18
	PropRequestResponseInfo  PropID = 0x19
	PropResponseInfo         PropID = 0x1A
	PropServerReference      PropID = 0x1C
	PropReasonString         PropID = 0x1F
	PropReceiveMaximum       PropID = 0x21
	PropTopicAliasMaximum    PropID = 0x22
	PropTopicAlias           PropID = 0x23
	PropMaximumQoS           PropID = 0x24
	PropRetainAvailable      PropID = 0x25
	PropUser                 PropID = 0x26
	PropMaximumPacketSize    PropID = 0x27
	PropWildcardSubAvailable PropID = 0x28
	PropSubIDAvailable       PropID = 0x29
	PropSharedSubAvailable   PropID = 0x2A
)

// WillProperties is the pseudo packet type DecodeProperties takes for the
// will properties in a CONNECT payload.
const WillProperties PacketType = 0

// UserProperty is one User Property name/value pair.
type UserProperty struct{ Key, Value []byte }

// Properties holds an MQTT 5 property block (§2.2.2). Decoded []byte fields
// are sub-slices of the decoded input, valid only as long as it is; Clone
// makes an independent copy.
//
// Present has bit 1<<id set for each property present. DecodeProperties sets
// it; for encoding, set it with Set next to the field's value: a property is
// written only when its bit is set, except SubscriptionIDs and User, which
// are written whenever they are non-empty.
type Properties struct {
	Present uint64

	PayloadFormat                        byte
	MessageExpiry                        uint32
	ContentType, ResponseTopic           []byte
	CorrelationData                      []byte
	SubscriptionIDs                      []uint32 // decode appends, reusing capacity; several only in server-to-client PUBLISH
	SessionExpiry                        uint32
	AssignedClientID                     []byte
	ServerKeepAlive                      uint16
	AuthMethod, AuthData                 []byte
	RequestProblemInfo                   byte
	RequestResponseInfo                  byte
	WillDelay                            uint32
	ResponseInfo, ServerReference        []byte
	ReasonString                         []byte
	ReceiveMaximum, TopicAliasMaximum    uint16
	TopicAlias                           uint16
	MaximumQoS, RetainAvailable          byte
	User                                 []UserProperty // wire order; decode appends, reusing capacity
	MaximumPacketSize                    uint32
	WildcardSubAvailable, SubIDAvailable byte
	SharedSubAvailable                   byte
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropID) bool { return p.Present&(1<<(id&63)) != 0 }

// Set marks property id present; set the field's value as well.
func (p *Properties) Set(id PropID) { p.Present |= 1 << (id & 63) }

// Reset zeroes every field but keeps the capacity of SubscriptionIDs and User.
func (p *Properties) Reset() {
	ids, user := p.SubscriptionIDs[:0], p.User[:0]
	*p = Properties{SubscriptionIDs: ids, User: user}
}

// Empty reports whether encoding p writes no property at all.
func (p *Properties) Empty() bool {
	return p.Present&^(1<<PropUser|1<<PropSubscriptionID) == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

// Property value kinds (§2.2.2.2).
const (
	kindByte = iota + 1
	kindUint16
	kindUint32
	kindVarInt
	kindString
	kindBinary
	kindPair
)

var propKind = [64]uint8{
	PropPayloadFormat: kindByte, PropMessageExpiry: kindUint32, PropContentType: kindString,
	PropResponseTopic: kindString, PropCorrelationData: kindBinary, PropSubscriptionID: kindVarInt,
	PropSessionExpiry: kindUint32, PropAssignedClientID: kindString, PropServerKeepAlive: kindUint16,
	PropAuthMethod: kindString, PropAuthData: kindBinary, PropRequestProblemInfo: kindByte,
	PropWillDelay: kindUint32, PropRequestResponseInfo: kindByte, PropResponseInfo: kindString,
	PropServerReference: kindString, PropReasonString: kindString, PropReceiveMaximum: kindUint16,
	PropTopicAliasMaximum: kindUint16, PropTopicAlias: kindUint16, PropMaximumQoS: kindByte,
	PropRetainAvailable: kindByte, PropUser: kindPair, PropMaximumPacketSize: kindUint32,
	PropWildcardSubAvailable: kindByte, PropSubIDAvailable: kindByte, PropSharedSubAvailable: kindByte,
}

func propSet(ids ...PropID) (m uint64) {
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}

// allowedProps[t] is the set of properties packet type t may carry (§2.2.2.2
// table 2-4); index WillProperties (0) is the CONNECT will properties.
var allowedProps = [16]uint64{
	WillProperties: propSet(PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
		PropCorrelationData, PropWillDelay, PropUser),
	CONNECT: propSet(PropSessionExpiry, PropAuthMethod, PropAuthData, PropRequestProblemInfo,
		PropRequestResponseInfo, PropReceiveMaximum, PropTopicAliasMaximum, PropUser,
		PropMaximumPacketSize),
	CONNACK: propSet(PropSessionExpiry, PropAssignedClientID, PropServerKeepAlive, PropAuthMethod,
		PropAuthData, PropResponseInfo, PropServerReference, PropReasonString, PropReceiveMaximum,
		PropTopicAliasMaximum, PropMaximumQoS, PropRetainAvailable, PropUser, PropMaximumPacketSize,
		PropWildcardSubAvailable, PropSubIDAvailable, PropSharedSubAvailable),
	PUBLISH: propSet(PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
		PropCorrelationData, PropSubscriptionID, PropTopicAlias, PropUser),
	PUBACK:      propSet(PropReasonString, PropUser),
	PUBREC:      propSet(PropReasonString, PropUser),
	PUBREL:      propSet(PropReasonString, PropUser),
	PUBCOMP:     propSet(PropReasonString, PropUser),
	SUBSCRIBE:   propSet(PropSubscriptionID, PropUser),
	SUBACK:      propSet(PropReasonString, PropUser),
	UNSUBSCRIBE: propSet(PropUser),
	UNSUBACK:    propSet(PropReasonString, PropUser),
	DISCONNECT:  propSet(PropSessionExpiry, PropServerReference, PropReasonString, PropUser),
	AUTH:        propSet(PropAuthMethod, PropAuthData, PropReasonString, PropUser),
}

// DecodeProperties decodes the property block at b's start (its length
// varint first) found in a packet of type pkt (WillProperties for CONNECT's
// will properties) into p, which it resets first. It returns the bytes
// consumed. Byte-slice fields alias b.
//
// Errors: a property not allowed in pkt, a property other than User
// Property (and Subscription Identifier in PUBLISH) given twice, a 0/1
// property above 1, or a zero Receive Maximum, Maximum Packet Size,
// Subscription Identifier or Topic Alias is a ProtocolError (§2.2.2.2 allows
// either code for the first; we pick ProtocolError); an unknown identifier,
// invalid UTF-8 or a truncated block is a MalformedPacket.
func DecodeProperties(b []byte, pkt PacketType, p *Properties) (n int, err error) {
	p.Reset()
	size, i, err := readVarInt(b, 0)
	if err != nil {
		return 0, err
	}
	end := i + int(size)
	if end > len(b) {
		return 0, errPropLen
	}
	b = b[:end] // fields may not run past the block
	allowed := allowedProps[pkt&15]
	for i < end {
		id := PropID(b[i])
		i++
		if id >= 64 || propKind[id] == 0 {
			return 0, errPropUnknown
		}
		bit := uint64(1) << id
		if allowed&bit == 0 {
			return 0, errPropNotAllowed // §2.2.2.2
		}
		if p.Present&bit != 0 && id != PropUser && !(id == PropSubscriptionID && pkt == PUBLISH) {
			return 0, errPropDuplicate // §2.2.2.2: "more than once is a Protocol Error"
		}
		p.Present |= bit
		switch propKind[id] {
		case kindByte:
			if i >= end {
				return 0, errShort
			}
			v := b[i]
			i++
			if v > 1 {
				// Every one-byte property is a 0/1 value (§3.1.2.11.6,
				// 3.1.2.11.7, 3.2.2.3.4, 3.2.2.3.5, 3.2.2.3.11-13, 3.3.2.3.2).
				return 0, errPropBool
			}
			switch id {
			case PropPayloadFormat:
				p.PayloadFormat = v
			case PropRequestProblemInfo:
				p.RequestProblemInfo = v
			case PropRequestResponseInfo:
				p.RequestResponseInfo = v
			case PropMaximumQoS:
				p.MaximumQoS = v
			case PropRetainAvailable:
				p.RetainAvailable = v
			case PropWildcardSubAvailable:
				p.WildcardSubAvailable = v
			case PropSubIDAvailable:
				p.SubIDAvailable = v
			case PropSharedSubAvailable:
				p.SharedSubAvailable = v
			}
		case kindUint16:
			var v uint16
			if v, i, err = readUint16(b, i); err != nil {
				return 0, err
			}
			switch id {
			case PropServerKeepAlive:
				p.ServerKeepAlive = v
			case PropReceiveMaximum:
				if v == 0 {
					return 0, errPropZero // §3.1.2.11.3, §3.2.2.3.3
				}
				p.ReceiveMaximum = v
			case PropTopicAliasMaximum:
				p.TopicAliasMaximum = v
			case PropTopicAlias:
				if v == 0 {
					return 0, errTopicAliasZero // [MQTT-3.3.2-8]: DISCONNECT 0x94
				}
				p.TopicAlias = v
			}
		case kindUint32:
			var v uint32
			if v, i, err = readUint32(b, i); err != nil {
				return 0, err
			}
			switch id {
			case PropMessageExpiry:
				p.MessageExpiry = v
			case PropSessionExpiry:
				p.SessionExpiry = v
			case PropWillDelay:
				p.WillDelay = v
			case PropMaximumPacketSize:
				if v == 0 {
					return 0, errPropZero // §3.1.2.11.4, §3.2.2.3.6
				}
				p.MaximumPacketSize = v
			}
		case kindVarInt: // Subscription Identifier, the only varint property
			var v uint32
			if v, i, err = readVarInt(b, i); err != nil {
				return 0, err
			}
			if v == 0 {
				return 0, errPropZero // §3.3.2.3.8, §3.8.2.1.2
			}
			p.SubscriptionIDs = append(p.SubscriptionIDs, v)
		case kindString, kindBinary:
			var s []byte
			if propKind[id] == kindString {
				s, i, err = readString(b, i)
			} else {
				s, i, err = readBinary(b, i)
			}
			if err != nil {
				return 0, err
			}
			*p.bytesField(id) = s
		case kindPair:
			var k, v []byte
			if k, i, err = readString(b, i); err != nil {
				return 0, err
			}
			if v, i, err = readString(b, i); err != nil {
				return 0, err
			}
			p.User = append(p.User, UserProperty{Key: k, Value: v})
		}
	}
	return end, nil
}

// bytesField returns the address of the []byte field for a string or binary
// property id.
func (p *Properties) bytesField(id PropID) *[]byte {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropCorrelationData:
		return &p.CorrelationData
	case PropAssignedClientID:
		return &p.AssignedClientID
	case PropAuthMethod:
		return &p.AuthMethod
	case PropAuthData:
		return &p.AuthData
	case PropResponseInfo:
		return &p.ResponseInfo
	case PropServerReference:
		return &p.ServerReference
	}
	return &p.ReasonString
}

// value returns the numeric value of a byte, uint16 or uint32 property.
func (p *Properties) value(id PropID) uint32 {
	switch id {
	case PropPayloadFormat:
		return uint32(p.PayloadFormat)
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropServerKeepAlive:
		return uint32(p.ServerKeepAlive)
	case PropRequestProblemInfo:
		return uint32(p.RequestProblemInfo)
	case PropWillDelay:
		return p.WillDelay
	case PropRequestResponseInfo:
		return uint32(p.RequestResponseInfo)
	case PropReceiveMaximum:
		return uint32(p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return uint32(p.TopicAliasMaximum)
	case PropTopicAlias:
		return uint32(p.TopicAlias)
	case PropMaximumQoS:
		return uint32(p.MaximumQoS)
	case PropRetainAvailable:
		return uint32(p.RetainAvailable)
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	case PropWildcardSubAvailable:
		return uint32(p.WildcardSubAvailable)
	case PropSubIDAvailable:
		return uint32(p.SubIDAvailable)
	case PropSharedSubAvailable:
		return uint32(p.SharedSubAvailable)
	}
	return 0
}

// sliceProps are the properties encoded from a slice whenever it is
// non-empty, whatever their Present bit says.
const sliceProps = 1<<PropUser | 1<<PropSubscriptionID

// Len returns the encoded length of p's property block without its own
// length varint.
func (p *Properties) Len() int {
	n := 0
	for _, id := range p.SubscriptionIDs {
		n += 1 + VarIntLen(id)
	}
	for _, u := range p.User {
		n += 5 + len(u.Key) + len(u.Value)
	}
	m := p.Present &^ sliceProps
	for m != 0 {
		id := PropID(bits.TrailingZeros64(m))
		m &= m - 1
		switch propKind[id] {
		case kindByte:
			n += 2
		case kindUint16:
			n += 3
		case kindUint32:
			n += 5
		case kindString, kindBinary:
			n += 3 + len(*p.bytesField(id))
		}
	}
	return n
}

// AppendProperties appends p as a property block: length varint, then each
// property in ascending identifier order (User Properties in slice order at
// 0x26's place, Subscription Identifiers at 0x0B's).
func AppendProperties(dst []byte, p *Properties) []byte {
	dst = AppendVarInt(dst, uint32(p.Len()))
	return appendPropertiesBody(dst, p)
}

func appendPropertiesBody(dst []byte, p *Properties) []byte {
	m := p.Present&^sliceProps | sliceProps
	for m != 0 {
		id := PropID(bits.TrailingZeros64(m))
		m &= m - 1
		switch propKind[id] {
		case kindByte:
			dst = append(dst, byte(id), byte(p.value(id)))
		case kindUint16:
			dst = appendUint16(append(dst, byte(id)), uint16(p.value(id)))
		case kindUint32:
			dst = appendUint32(append(dst, byte(id)), p.value(id))
		case kindString, kindBinary:
			dst = AppendString(append(dst, byte(id)), *p.bytesField(id))
		case kindVarInt:
			for _, v := range p.SubscriptionIDs {
				dst = AppendVarInt(append(dst, byte(PropSubscriptionID)), v)
			}
		case kindPair:
			for _, u := range p.User {
				dst = AppendString(AppendString(append(dst, byte(PropUser)), u.Key), u.Value)
			}
		}
	}
	return dst
}

// propsLen returns the encoded size of p including its length varint.
func propsLen(p *Properties) int {
	n := p.Len()
	return VarIntLen(uint32(n)) + n
}

// Clone returns a deep copy of p that does not alias any decoded input. All
// byte fields (user properties included) share one new allocation; User and
// SubscriptionIDs get one more each when non-empty.
func (p *Properties) Clone() Properties {
	c := *p
	c.SubscriptionIDs, c.User = nil, nil
	n := 0
	for id := PropID(0); id < 64; id++ {
		if k := propKind[id]; k == kindString || k == kindBinary {
			n += len(*p.bytesField(id))
		}
	}
	for _, u := range p.User {
		n += len(u.Key) + len(u.Value)
	}
	var buf []byte
	if n > 0 {
		buf = make([]byte, 0, n)
	}
	clip := func(s []byte) []byte {
		if s == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, s...)
		return buf[start:len(buf):len(buf)]
	}
	for id := PropID(0); id < 64; id++ {
		if k := propKind[id]; k == kindString || k == kindBinary {
			f := c.bytesField(id)
			*f = clip(*f)
		}
	}
	if len(p.User) > 0 {
		c.User = make([]UserProperty, len(p.User))
		for i, u := range p.User {
			c.User[i] = UserProperty{Key: clip(u.Key), Value: clip(u.Value)}
		}
	}
	if len(p.SubscriptionIDs) > 0 {
		c.SubscriptionIDs = append([]uint32(nil), p.SubscriptionIDs...)
	}
	return c
}
