package server

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cp7/cp7/codec"
)

// A bus message is one MQTT application message as it crosses between nodes
// (the payload of a NATS message; also the value of a retained message in
// the cluster's key-value bucket):
//
//	[0]      version (1)
//	[1:9]    publishing node's id, filled in by the cluster (BusOrigin)
//	[9:17]   the node's sequence number of this message, filled in likewise
//	[17]     flags: bits 0-1 QoS, 2 retain, 3 properties follow, 4 expiry follows
//	[18:20]  topic length (u16), then the topic (at a fixed offset, so the
//	         cluster reads it without decoding the rest: BusTopic)
//	[u32]    seconds left until the message expires (flag 4)
//	[props]  v5 properties as in a PUBLISH: varint length, then the
//	         forwarded ones (payload format, content type, response topic,
//	         correlation data, user properties) (flag 3)
//	rest     payload
//
// A frame, as loops hand them to Cluster.Publish in a batch, is a u32
// big-endian length and then one bus message.
const (
	busVersion   = 1
	busHeaderLen = 18 // version, origin, sequence, flags
	busOriginOff = 1
	busSeqOff    = 9

	busFlagRetain = 1 << 2
	busFlagProps  = 1 << 3
	busFlagExpiry = 1 << 4
)

var errBusMessage = errors.New("server: malformed bus message (a node of another version on the bus?)")

// AppendBusMessage appends m encoded as a bus message, its origin and
// sequence zero. now is used to turn the expiry into seconds left.
func AppendBusMessage(dst []byte, m *Message, now time.Time) []byte {
	flags := m.QoS & 3
	if m.Retain {
		flags |= busFlagRetain
	}
	if m.Props != nil {
		flags |= busFlagProps
	}
	if !m.Expiry.IsZero() {
		flags |= busFlagExpiry
	}
	dst = append(dst, busVersion)
	dst = append(dst, make([]byte, 16)...) // does not allocate: appends zeroes
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Topic)))
	dst = append(dst, m.Topic...)
	if flags&busFlagExpiry != 0 {
		left := m.Expiry.Sub(now)
		secs := uint32(0)
		if left > 0 {
			secs = uint32((left + time.Second - 1) / time.Second)
		}
		dst = binary.BigEndian.AppendUint32(dst, secs)
	}
	if flags&busFlagProps != 0 {
		dst = codec.AppendProperties(dst, m.Props)
	}
	return append(dst, m.Payload...)
}

// appendBusFrame appends m as one frame of a batch for Cluster.Publish.
func appendBusFrame(dst []byte, m *Message, now time.Time) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = AppendBusMessage(dst, m, now)
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// NextBusFrame splits the first frame off a batch given to Cluster.Publish:
// msg is the bus message (a slice of batch), rest what follows. ok is false
// at the end or on a damaged batch.
func NextBusFrame(batch []byte) (msg, rest []byte, ok bool) {
	if len(batch) < 4 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint32(batch))
	if n < busHeaderLen+2 || len(batch)-4 < n {
		return nil, nil, false
	}
	return batch[4 : 4+n], batch[4+n:], true
}

// SetBusOrigin writes the publishing node's id and the message's sequence
// number into a bus message in place.
func SetBusOrigin(msg []byte, node, seq uint64) {
	binary.BigEndian.PutUint64(msg[busOriginOff:], node)
	binary.BigEndian.PutUint64(msg[busSeqOff:], seq)
}

// BusOrigin reads them back; ok is false when msg is too short.
func BusOrigin(msg []byte) (node, seq uint64, ok bool) {
	if len(msg) < busHeaderLen {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(msg[busOriginOff:]), binary.BigEndian.Uint64(msg[busSeqOff:]), true
}

// BusTopic returns the topic of a bus message (a slice of msg).
func BusTopic(msg []byte) ([]byte, bool) {
	if len(msg) < busHeaderLen+2 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(msg[busHeaderLen:]))
	if n == 0 || len(msg) < busHeaderLen+2+n {
		return nil, false
	}
	return msg[busHeaderLen+2 : busHeaderLen+2+n], true
}

// decodeBusMessage decodes b into a new owned Message whose slices point
// into b: b must not change afterwards.
func decodeBusMessage(b []byte, now time.Time) (*Message, error) {
	if len(b) < busHeaderLen+2 || b[0] != busVersion {
		return nil, errBusMessage
	}
	flags := b[busHeaderLen-1]
	m := &Message{QoS: flags & 3, Retain: flags&busFlagRetain != 0, owned: true, remote: true}
	if m.QoS > 2 {
		return nil, errBusMessage
	}
	topic, ok := BusTopic(b)
	if !ok {
		return nil, errBusMessage
	}
	m.Topic = topic[:len(topic):len(topic)]
	p := b[busHeaderLen+2+len(topic):]
	if flags&busFlagExpiry != 0 {
		if len(p) < 4 {
			return nil, errBusMessage
		}
		m.Expiry = now.Add(time.Duration(binary.BigEndian.Uint32(p)) * time.Second)
		p = p[4:]
	}
	if flags&busFlagProps != 0 {
		props := new(codec.Properties)
		n, err := codec.DecodeProperties(p, codec.PUBLISH, props)
		if err != nil {
			return nil, errBusMessage
		}
		m.Props = props
		p = p[n:]
	}
	m.Payload = p
	return m, nil
}
