package server

import (
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
)

// onPublish handles an inbound PUBLISH [MQTT-3.3]. p borrows the read
// buffer. A returned error ends the connection with its reason code.
func (l *loop) onPublish(c *client, p *codec.Publish) error {
	s := c.sess
	topic := p.Topic
	if c.v5 != nil {
		var rc codec.ReasonCode
		if topic, rc = l.resolveAlias(c, p); rc != codec.Success {
			if rc == codec.TopicAliasInvalid {
				l.clientLimit(limTopicAlias, c, "topic alias above the maximum")
			}
			return protoErr(rc, "bad topic alias")
		}
		if p.Props.Has(codec.PropResponseTopic) && !router.ValidTopicName(p.Props.ResponseTopic) {
			return protoErr(codec.ProtocolError, "Response Topic with wildcards") // [MQTT-3.3.2-14]
		}
		if len(p.Props.SubscriptionIDs) > 0 {
			return protoErr(codec.ProtocolError, "PUBLISH from a client carries a subscription identifier") // [MQTT-3.3.4-6]
		}
	}
	if !router.ValidTopicName(topic) {
		return protoErr(codec.TopicNameInvalid, "invalid topic name") // [MQTT-3.3.2-2]
	}
	if !l.srv.cfg.topicWithin(topic) {
		l.clientLimit(limTopic, c, "publish topic above the maximum levels or length")
		return protoErr(codec.TopicNameInvalid, "topic has more levels or bytes than the server allows")
	}
	if p.QoS > l.srv.cfg.MaxQoS {
		return protoErr(codec.QoSNotSupported, "PUBLISH QoS above the server's maximum") // [MQTT-3.2.2-11]
	}
	if p.Retain && !l.srv.cfg.RetainAvailable {
		return protoErr(codec.RetainNotSupported, "retained message while retain is unavailable") // [MQTT-3.2.2-14]
	}
	if p.QoS == 2 {
		if s.hasQoS2(p.PacketID) {
			// A re-sent QoS 2 publish already routed: acknowledge again only
			// [MQTT-4.3.3-9 (3.1.1: 4.3.3-2)], after what it waits for.
			if !l.ackAfterCommit(c, p, codec.Success) {
				l.writeAck(c, codec.PUBREC, p.PacketID, codec.Success)
			}
			return nil
		}
		if s.st != nil && s.st.qos2in.len() >= int(l.srv.cfg.ReceiveMaximum) {
			// v5: told in CONNACK, DISCONNECT 0x93 [MQTT-3.3.4-7]; a 3.1.1
			// client is disconnected too, so no client grows this set.
			l.clientLimit(limInflightIn, c, "more unacknowledged QoS 2 publishes than the receive maximum")
			return protoErr(codec.ReceiveMaximumExceeded, "more unacknowledged QoS 2 publishes than Receive Maximum") // [MQTT-3.3.4-7]
		}
	}
	if l.srv.checkTopics {
		allow, known := l.decideTopic(c, ActionPublish, topic)
		if !known {
			return l.waitTopics(c, ActionPublish, []string{string(topic)})
		}
		c.doneTopics()
		if !allow {
			return l.denyPublish(c, p, topic)
		}
	}

	m := &l.inMsg
	*m = Message{Topic: topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain, From: s}
	if c.v5 != nil {
		m.Props = messageProps(&p.Props, &l.props)
		if p.Props.Has(codec.PropMessageExpiry) {
			m.Expiry = l.now.Add(time.Duration(p.Props.MessageExpiry) * time.Second)
		}
	}
	l.ownSrc, l.ownDst = nil, nil
	if cfg := &l.srv.cfg; cfg.PublishRate > 0 || cfg.PublishBytesRate > 0 {
		l.chargePublish(c, len(p.Payload))
	}
	if l.hot != nil {
		l.hot.sample(topic)
	}
	if p.QoS > 0 && l.srv.cfg.Store != nil {
		return l.publishDurable(c, p, m)
	}
	if p.Retain {
		l.retain(m)
	}
	n := l.route(m)
	rc := codec.Success
	if n == 0 && c.v5 != nil {
		rc = codec.NoMatchingSubscribers
	}
	l.ackPublish(c, p, rc)
	return nil
}

// ackPublish sends PUBACK for QoS 1, records the id and sends PUBREC for
// QoS 2 [MQTT-4.3.2-2, 4.3.3-2].
func (l *loop) ackPublish(c *client, p *codec.Publish, rc codec.ReasonCode) {
	switch p.QoS {
	case 1:
		l.writeAck(c, codec.PUBACK, p.PacketID, rc)
	case 2:
		if rc < 0x80 {
			l.stateOf(c.sess).qos2in.add(p.PacketID)
		}
		l.writeAck(c, codec.PUBREC, p.PacketID, rc)
	}
}

func (s *session) hasQoS2(pid uint16) bool {
	return s.st != nil && s.st.qos2in.has(pid)
}

// onPubrel completes an inbound QoS 2 flow [MQTT-4.3.3-11 (3.1.1: 4.3.3-2)].
func (l *loop) onPubrel(c *client, a *codec.Ack) {
	s := c.sess
	rc := codec.PacketIdentifierNotFound
	if st := s.st; st != nil {
		if st.qos2in.remove(a.PacketID) {
			rc = codec.Success
			if s.isDurable() {
				l.sbatch().DeleteQoS2(s.id, a.PacketID)
			}
		}
		l.trim(s)
	}
	if c.v5 == nil {
		rc = codec.Success
	}
	l.writeAck(c, codec.PUBCOMP, a.PacketID, rc)
}

// onAck handles PUBACK, PUBREC and PUBCOMP for our outbound deliveries
// [MQTT-4.3.2, 4.3.3].
func (l *loop) onAck(c *client, a *codec.Ack) {
	s := c.sess
	i := s.findInflight(a.PacketID)
	if i < 0 {
		if a.Type == codec.PUBREC {
			// Unknown id: answer so the client's flow can end [MQTT-4.3.3].
			l.writeAck(c, codec.PUBREL, a.PacketID, codec.PacketIdentifierNotFound)
		}
		return
	}
	o := s.st.inflight[i]
	switch a.Type {
	case codec.PUBACK:
		if o.qos != 1 {
			return
		}
	case codec.PUBREC:
		if o.qos != 2 || o.state != outWaitAck {
			if o.state == outWaitComp {
				l.writeAck(c, codec.PUBREL, a.PacketID, codec.Success)
			}
			return
		}
		if a.ReasonCode < 0x80 {
			o.state = outWaitComp
			if !l.pubrelAfterCommit(c, s, o) {
				l.writeAck(c, codec.PUBREL, a.PacketID, codec.Success) // [MQTT-4.3.3-4]
			}
			return
		}
		// The receiver refused: the flow ends [MQTT-4.3.3].
	case codec.PUBCOMP:
		if o.state != outWaitComp {
			return
		}
	}
	// The flow is complete: the window and queue held the only reference.
	o = l.removeInflight(s, a.PacketID)
	l.dropRef(s, o)
	l.freeOutbound(o)
	l.count.acked++
	l.fillWindow(s)
	l.trim(s)
}

// route matches m against the subscription table and delivers it: at once
// to sessions owned by this loop, in one batch per loop for the others. It
// returns the number of receiving sessions. Owner of the publisher only.
func (l *loop) route(m *Message) int {
	r := &l.match
	var from router.Subscriber
	if m.From != nil {
		from = m.From
	}
	l.srv.router.Match(m.Topic, from, r)
	l.toBus(m)
	refs := false
	if m.QoS > 0 && l.srv.cfg.Store != nil {
		// A will or a broker message: stored for persistent receivers
		// while the store takes work, not waited for.
		if l.markDurable(m) > 0 && l.srv.cfg.Store.Accepting() {
			m = l.storeMatched(m)
			refs = true
		}
	}
	return l.deliverMatched(m, refs)
}

// toBus hands m to the other nodes of a cluster, in this turn's batch.
func (l *loop) toBus(m *Message) {
	if l.srv.cluster != nil && !m.remote {
		// To the other nodes: the bus carries it only where some node
		// subscribed (interest), and picks shared groups' members.
		if l.busOut == nil {
			l.busOut = getBusBatch()
		}
		l.busOut = appendBusFrame(l.busOut, m, l.now)
	}
}

// deliverMatched delivers m to the router's matches in l.match; refs says
// l.refs holds their stored references. It returns the number of
// receiving sessions (plus one in a cluster: subscribers elsewhere are not
// known here).
func (l *loop) deliverMatched(m *Message, refs bool) int {
	r := &l.match
	clustered := l.srv.cluster != nil
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		s, ok := d.Client.(*session)
		if !ok || clustered && d.Shared {
			// Shared groups span nodes: the bus's queue subscriptions
			// pick the one member cluster-wide (FromBusShared).
			continue
		}
		opt := deliverOpts{qos: d.QoS, subIDs: d.SubIDs, group: d.Group, filter: d.Filter}
		opt.retain = d.RetainAsPublished && m.Retain // [MQTT-3.3.1-12, 3.3.1-13]
		if refs {
			opt.ref = l.refs[i]
		}
		if owner := s.owner.Load(); owner != l {
			l.handOver(owner, s, l.own(m), opt)
			continue
		}
		l.deliver(s, m, opt)
	}
	if clustered {
		return len(r.Deliveries) + 1 // subscribers elsewhere are not known here
	}
	return len(r.Deliveries)
}

// denyPublish answers a PUBLISH the client may not send.
func (l *loop) denyPublish(c *client, p *codec.Publish, topic []byte) error {
	l.event(evDeniedPublish)
	// 3.1.1 has no way to refuse a publish: acknowledge and drop, as
	// Mosquitto does, so the client does not resend it forever. v5
	// says why in the PUBACK or PUBREC: 0x87 Not authorized
	// [MQTT-3.4.2-1, 3.5.2-1]; a PUBREC of 0x80 or more ends the QoS 2
	// flow (MQTT 5.0 §4.3.3).
	if l.srv.logDebug {
		l.srv.log.Debug("publish denied", "client_id", c.clientID(), "topic", string(topic), "qos", p.QoS)
	}
	if !l.ackAfterCommit(c, p, codec.NotAuthorized) { // behind this client's earlier uncommitted publishes
		l.ackPublish(c, p, codec.NotAuthorized)
	}
	return nil
}
