package server

import (
	"time"

	"github.com/cp7/cp7/codec"
)

// v5state is what an MQTT 5 connection adds: the client's limits and the
// topic aliases of both directions. Allocated only for v5 clients; the alias
// maps only when aliases are first used. Owner only.
type v5state struct {
	receiveMax  uint16 // client's Receive Maximum: our outbound window [MQTT-3.3.4-9]
	maxPacket   uint32 // client's Maximum Packet Size; 0 = no limit
	aliasMaxOut uint16 // client's Topic Alias Maximum: aliases we may send
	aliasesIn   map[uint16][]byte
	aliasesOut  map[string]uint16
	problemInfo bool // Request Problem Information (default 1)
}

// resolveAlias applies an inbound Topic Alias [MQTT-3.3.2-7..10]. It returns
// the topic the PUBLISH stands for, or the reason it is a protocol error.
func (l *loop) resolveAlias(c *client, p *codec.Publish) ([]byte, codec.ReasonCode) {
	if !p.Props.Has(codec.PropTopicAlias) {
		return p.Topic, codec.Success
	}
	alias := p.Props.TopicAlias
	if alias == 0 || alias > l.srv.cfg.TopicAliasMaximum {
		return nil, codec.TopicAliasInvalid // [MQTT-3.3.2-8, 3.3.2-9]
	}
	v := c.v5
	if len(p.Topic) == 0 {
		t, ok := v.aliasesIn[alias]
		if !ok {
			return nil, codec.ProtocolError // alias never set on this connection
		}
		return t, codec.Success
	}
	if v.aliasesIn == nil {
		v.aliasesIn = make(map[uint16][]byte)
	}
	if old, ok := v.aliasesIn[alias]; ok && string(old) == string(p.Topic) {
		return old, codec.Success
	}
	v.aliasesIn[alias] = append([]byte(nil), p.Topic...)
	return p.Topic, codec.Success
}

// outboundProps fills l.encode.Props for a delivery to a v5 client: the
// message's forwarded properties, its subscription identifiers, the
// remaining expiry, and a topic alias when the client allows them. It
// returns the alias to use and whether it is newly assigned (then the topic
// is sent with it, and the alias is recorded once the packet fits).
func (l *loop) outboundProps(c *client, m *Message, opt *deliverOpts) (alias uint16, isNew bool) {
	p := &l.encode.Props
	*p = codec.Properties{}
	if m.Props != nil {
		p.Present = m.Props.Present & forwardedProps
		p.PayloadFormat = m.Props.PayloadFormat
		p.ContentType = m.Props.ContentType
		p.ResponseTopic = m.Props.ResponseTopic
		p.CorrelationData = m.Props.CorrelationData
		p.User = m.Props.User // [MQTT-3.3.2-17] unchanged and in order
	}
	p.SubscriptionIDs = opt.subIDs // [MQTT-3.3.4-3]
	if !m.Expiry.IsZero() {
		left := m.Expiry.Sub(l.now)
		secs := uint32((left + time.Second - 1) / time.Second)
		if secs == 0 {
			secs = 1
		}
		p.MessageExpiry = secs // [MQTT-3.3.2-6] the remaining interval
		p.Set(codec.PropMessageExpiry)
	}
	v := c.v5
	if v.aliasMaxOut == 0 {
		return 0, false
	}
	if a, ok := v.aliasesOut[string(m.Topic)]; ok {
		alias = a
	} else if len(v.aliasesOut) < int(v.aliasMaxOut) {
		alias, isNew = uint16(len(v.aliasesOut)+1), true
	} else {
		return 0, false // all aliases taken: send the topic in full
	}
	p.TopicAlias = alias
	p.Set(codec.PropTopicAlias)
	return alias, isNew
}

func (v *v5state) commitAlias(topic []byte, alias uint16) {
	if v.aliasesOut == nil {
		v.aliasesOut = make(map[string]uint16)
	}
	v.aliasesOut[string(topic)] = alias
}
