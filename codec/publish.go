package codec

import "encoding/binary"

// Publish is a PUBLISH packet (3.1.1 §3.3, 5.0 §3.3). After Decode, Topic,
// Payload and the byte fields of Props alias the decoded body: valid only as
// long as it is, copy to keep.
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte // empty only in v5 with Props.TopicAlias set
	PacketID uint16 // QoS 1 and 2 only
	Props    Properties
	Payload  []byte
}

// PUBLISH fixed-header flag bits (§3.3.1).
const (
	publishRetain = 0x01
	publishQoS    = 0x06
	publishDup    = 0x08
)

// Decode decodes a PUBLISH body (the bytes after the fixed header) with the
// flags nibble from its fixed header, for protocol version.
//
// Errors: DUP on QoS 0 or QoS 3 (MalformedPacket); topic not valid UTF-8
// (MalformedPacket); topic with '+' or '#' (Code TopicNameInvalid); empty
// topic without a v5 Topic Alias, or packet identifier 0 at QoS 1 or 2
// (ProtocolError). Subscription Identifiers are accepted (clients decode
// server PUBLISHes): a server must reject them from clients itself
// [MQTT-3.3.4-6].
func (p *Publish) Decode(flags byte, body []byte, version byte) error {
	p.Props.Reset()
	p.Dup = flags&publishDup != 0
	p.QoS = flags & publishQoS >> 1
	p.Retain = flags&publishRetain != 0
	p.PacketID = 0
	if p.QoS == 3 {
		return errPublishQoS3 // [MQTT-3.3.1-4]
	}
	if p.Dup && p.QoS == 0 {
		return errPublishDupQoS0 // [MQTT-3.3.1-2]
	}

	topic, i, err := readBinary(body, 0)
	if err != nil {
		return err
	}
	switch checkTopicName(topic) {
	case topicBadUTF8:
		return errUTF8 // [MQTT-3.3.2-1]
	case topicWildcard:
		return errTopicWildcard // [MQTT-3.3.2-2]
	}
	p.Topic = topic
	if p.QoS > 0 {
		if i+2 > len(body) {
			return errShort
		}
		p.PacketID = uint16(body[i])<<8 | uint16(body[i+1])
		i += 2
		if p.PacketID == 0 {
			return errPacketIDZero // [MQTT-2.2.1-3]
		}
	}
	if version >= Version5 {
		if i < len(body) && body[i] == 0 {
			i++ // empty property block, the common case; Props is already reset
		} else {
			n, err := DecodeProperties(body[i:], PUBLISH, &p.Props)
			if err != nil {
				return err
			}
			i += n
		}
	}
	if len(topic) == 0 && p.Props.TopicAlias == 0 {
		// [MQTT-4.7.3-1]: topic names are at least one character; v5 allows
		// an empty one that a Topic Alias stands for (§3.3.2.3.4).
		return errTopicEmpty
	}
	p.Payload = body[i:len(body):len(body)]
	return nil
}

const (
	topicOK = iota
	topicBadUTF8
	topicWildcard
)

// checkTopicName validates a topic name's UTF-8 and looks for wildcards in
// one pass, eight ASCII bytes at a time.
func checkTopicName(s []byte) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		if w&wordHigh != 0 || hasZeroByte(w) || hasZeroByte(w^(wordLow*'+')) || hasZeroByte(w^(wordLow*'#')) {
			break // look at this word byte by byte
		}
	}
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0:
			return topicBadUTF8 // [MQTT-1.5.3-2]
		case c == '+' || c == '#':
			return topicWildcard
		case c >= 0x80:
			if !validUTF8Slow(s[i:]) {
				return topicBadUTF8
			}
			for _, c := range s[i:] { // multi-byte sequences never contain '+' or '#'
				if c == '+' || c == '#' {
					return topicWildcard
				}
			}
			return topicOK
		}
	}
	return topicOK
}

// publishBodyLen returns the PUBLISH remaining length.
func publishBodyLen(p *Publish, version byte) int {
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	if version >= Version5 {
		n += propsLen(&p.Props)
	}
	return n
}

// PublishLen returns the encoded size of p including its fixed header.
func PublishLen(p *Publish, version byte) int {
	n := publishBodyLen(p, version)
	return 1 + VarIntLen(uint32(n)) + n
}

// AppendPublish appends the PUBLISH packet p for protocol version; MQTT 3
// packets carry no properties. PacketID is written only for QoS 1 and 2.
func AppendPublish(dst []byte, p *Publish, version byte) []byte {
	flags := p.QoS & 3 << 1
	if p.Dup {
		flags |= publishDup
	}
	if p.Retain {
		flags |= publishRetain
	}
	dst = AppendFixedHeader(dst, PUBLISH, flags, publishBodyLen(p, version))
	dst = AppendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if version >= Version5 {
		if p.Props.Empty() {
			dst = append(dst, 0)
		} else {
			dst = AppendProperties(dst, &p.Props)
		}
	}
	return append(dst, p.Payload...)
}
