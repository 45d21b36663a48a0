package server

import (
	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
)

// onSubscribe handles SUBSCRIBE [MQTT-3.8]: one return code per filter in
// order [MQTT-3.8.4-6], granted QoS = min(requested, maximum) [MQTT-3.8.4-8],
// a repeated filter replaces the old subscription [MQTT-3.8.4-3], then the
// retained messages.
func (l *loop) onSubscribe(c *client, p *codec.Subscribe) error {
	s := c.sess
	if l.srv.checkTopics {
		if err := l.askSubscribe(c, p); err != nil {
			return err
		}
		defer c.doneTopics()
	}
	var subID uint32
	if c.v5 != nil && len(p.Props.SubscriptionIDs) > 0 {
		subID = p.Props.SubscriptionIDs[0]
	}
	codes := l.pkt.codes[:0]
	type added struct {
		i       int
		granted byte
		existed bool
		shared  bool
	}
	var ok [8]added
	news := ok[:0]
	for i := range p.Subs {
		sub := &p.Subs[i]
		group, _, shared := router.ParseShared(sub.Filter)
		rc := codec.ReasonCode(0)
		switch {
		case !router.ValidFilter(sub.Filter):
			rc = codec.TopicFilterInvalid
		case shared && c.v5 != nil && sub.NoLocal:
			return protoErr(codec.ProtocolError, "No Local on a shared subscription") // [MQTT-3.8.3-4]
		case shared && len(group) == 0:
			rc = codec.TopicFilterInvalid
		case !l.srv.cfg.topicWithin(sub.Filter):
			rc = codec.TopicFilterInvalid
			l.clientLimit(limTopic, c, "filter above the maximum levels or length")
		}
		if max := l.srv.cfg.MaxSubscriptions; rc == 0 && max > 0 && len(s.subs) >= max {
			if _, ok := s.subs[string(sub.Filter)]; !ok {
				rc = codec.QuotaExceeded
				l.clientLimit(limSubscriptions, c, "subscriptions above the maximum per client")
			}
		}
		if rc == 0 && l.srv.checkTopics && !l.subscribeAllowed(c, sub.Filter) {
			rc = codec.NotAuthorized // 0x87, a SUBACK reason code for this filter [MQTT-3.9.3-1, 3.9.3-2]
			l.event(evDeniedSubscribe)
		}
		if rc != 0 {
			if c.v5 == nil {
				rc = 0x80 // 3.1.1 knows only "Failure" (3.1.1 §3.9.3)
			}
			codes = append(codes, rc)
			continue
		}
		granted := min(sub.QoS, l.srv.cfg.MaxQoS)
		rs := router.Sub{
			Client:            s,
			Filter:            string(sub.Filter),
			QoS:               granted,
			NoLocal:           sub.NoLocal,
			RetainAsPublished: sub.RetainAsPublished,
			RetainHandling:    sub.RetainHandling,
			ID:                subID,
		}
		existed := l.srv.subscribeRouter(rs)
		if s.subs == nil {
			s.subs = make(map[string]router.Sub, 1)
		}
		s.subs[rs.Filter] = rs
		codes = append(codes, codec.ReasonCode(granted))
		news = append(news, added{i, granted, existed, shared})
	}
	l.pkt.codes = codes
	if len(news) > 0 {
		l.saveSession(s)
	}
	ack := codec.Suback{PacketID: p.PacketID, ReasonCodes: codes}
	c.setBuf(codec.AppendSuback(c.buf(), &ack, c.version))
	for _, a := range news {
		l.sendRetained(s, &p.Subs[a.i], a.granted, a.existed, subID, a.shared)
	}
	return nil
}

// askSubscribe makes sure every filter's decision is known before any is
// applied: the filters a hook has no cached decision for go to the auth
// workers together, and the SUBSCRIBE waits (errTopicWait) for all of them.
func (l *loop) askSubscribe(c *client, p *codec.Subscribe) error {
	if l.topicRules(c) == nil || c.x.acl.slow == nil {
		return nil
	}
	var ask []string
	for i := range p.Subs {
		f := p.Subs[i].Filter
		if !router.ValidFilter(f) {
			continue
		}
		if _, known := l.decideTopic(c, ActionSubscribe, f); !known {
			ask = append(ask, string(f))
		}
	}
	if len(ask) == 0 {
		return nil
	}
	return l.waitTopics(c, ActionSubscribe, ask)
}

// subscribeAllowed: known for every filter once askSubscribe passed.
func (l *loop) subscribeAllowed(c *client, filter []byte) bool {
	allow, known := l.decideTopic(c, ActionSubscribe, filter)
	return allow && known
}

// onUnsubscribe handles UNSUBSCRIBE [MQTT-3.10]: the acknowledgement is sent
// even when nothing matched [MQTT-3.10.4-5].
func (l *loop) onUnsubscribe(c *client, p *codec.Unsubscribe) {
	s := c.sess
	codes := l.pkt.codes[:0]
	for _, f := range p.Filters {
		rc := codec.NoSubscriptionExisted
		if _, ok := s.subs[string(f)]; ok {
			delete(s.subs, string(f))
			l.srv.unsubscribeRouter(s, string(f))
			rc = codec.Success
		}
		codes = append(codes, rc)
	}
	l.pkt.codes = codes
	l.saveSession(s)
	ack := codec.Unsuback{PacketID: p.PacketID}
	if c.v5 != nil {
		ack.ReasonCodes = codes
	}
	c.setBuf(codec.AppendUnsuback(c.buf(), &ack, c.version))
}
