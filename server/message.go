package server

import (
	"time"

	"github.com/cp7/cp7/codec"
)

// Message is one application message as routed. A Message built on the stack
// from a decoded PUBLISH borrows the event loop's read buffer and is valid only
// during OnTraffic; anything that outlives the callback (a queued or in-flight
// delivery, a retained message, a hand-over to another loop) holds the result
// of own(), which copies the bytes once and is then immutable and shared.
type Message struct {
	Topic   []byte
	Payload []byte
	QoS     byte
	Retain  bool
	// Props holds the v5 properties that travel with the message (payload
	// format, content type, response topic, correlation data, user
	// properties); nil when there are none. Topic alias and subscription
	// identifiers are per-hop and never stored here.
	Props *codec.Properties
	// Expiry is when the message expires (v5 Message Expiry Interval); zero
	// means never.
	Expiry time.Time
	// From is the publishing session (for No Local); nil for wills, $SYS
	// and messages from other nodes.
	From *session

	owned bool
	// remote marks a message that came from another node: it is routed
	// here only, never sent to the bus again.
	remote bool
	// sid is the message's id in the store (0: not stored); srefs counts
	// the sessions' stored references to it (atomic: loops share the
	// message), and the last one to go deletes it.
	sid   uint64
	srefs int32
}

// own returns a copy that may be kept beyond the current callback. It copies
// topic and payload into one allocation. A message already owned is returned
// as is.
func (m *Message) own() *Message {
	if m.owned {
		return m
	}
	buf := make([]byte, len(m.Topic)+len(m.Payload))
	n := copy(buf, m.Topic)
	copy(buf[n:], m.Payload)
	c := &Message{
		Topic:   buf[:n:n],
		Payload: buf[n:],
		QoS:     m.QoS,
		Retain:  m.Retain,
		Expiry:  m.Expiry,
		From:    m.From,
		owned:   true,
		remote:  m.remote,
	}
	if m.Props != nil {
		p := m.Props.Clone()
		c.Props = &p
	}
	return c
}

// expired reports whether the message's expiry interval has passed.
func (m *Message) expired(now time.Time) bool {
	return !m.Expiry.IsZero() && !now.Before(m.Expiry)
}

// messageProps copies the properties of a PUBLISH that are forwarded to
// subscribers unchanged [MQTT-3.3.2-15..20]: it returns nil when there are
// none, so a v5 publish without properties costs nothing.
func messageProps(in *codec.Properties, scratch *codec.Properties) *codec.Properties {
	if in.Present&forwardedProps == 0 && len(in.User) == 0 {
		return nil
	}
	scratch.Reset()
	scratch.Present = in.Present & forwardedProps
	scratch.PayloadFormat = in.PayloadFormat
	scratch.ContentType = in.ContentType
	scratch.ResponseTopic = in.ResponseTopic
	scratch.CorrelationData = in.CorrelationData
	scratch.User = append(scratch.User[:0], in.User...)
	return scratch
}

const forwardedProps = 1<<codec.PropPayloadFormat | 1<<codec.PropContentType |
	1<<codec.PropResponseTopic | 1<<codec.PropCorrelationData
