package server

import (
	"time"

	"github.com/cp7/cp7/codec"
)

// will is a connection's Last Will, copied out of CONNECT [MQTT-3.1.2-8].
type will struct {
	m     *Message
	delay uint32 // v5 Will Delay Interval, seconds
}

// newWill copies the will out of a decoded CONNECT.
func newWill(p *codec.Connect, l *loop) *will {
	m := Message{Topic: p.WillTopic, Payload: p.WillPayload, QoS: p.WillQoS, Retain: p.WillRetain}
	var delay uint32
	if p.ProtocolVersion == codec.Version5 {
		m.Props = messageProps(&p.WillProps, &l.props)
		if p.WillProps.Has(codec.PropMessageExpiry) {
			m.Expiry = time.Now().Add(time.Duration(p.WillProps.MessageExpiry) * time.Second)
		}
		delay = p.WillProps.WillDelay
	}
	return &will{m: m.own(), delay: delay}
}

// publishWill routes a will message like any publish, retained if asked.
func (l *loop) publishWill(w *will) {
	m := w.m
	if !m.Expiry.IsZero() && m.expired(time.Now()) {
		return
	}
	l.ownSrc, l.ownDst = nil, nil
	if m.Retain && l.srv.cfg.RetainAvailable {
		l.retain(m)
	}
	l.route(m)
	l.event(evWillSent)
}

// onConnectionLost runs the will of a connection that ended without a normal
// DISCONNECT [MQTT-3.1.2-8, 3.1.2-10]: at once, or (v5) after the will delay
// unless the session resumes first [MQTT-3.1.3-9].
func (l *loop) onConnectionLost(c *client, s *session) {
	w := c.takeWill()
	if w == nil {
		return
	}
	if w.delay == 0 || s == nil || s.removed || s.expiry == 0 {
		l.publishWill(w)
		return
	}
	st := l.stateOf(s)
	st.pendingWill = w
	st.willAt = time.Now().Unix() + int64(w.delay) + 1 // whole seconds: late by < 1 s, never early
}

// checkWill drops a will the client may not publish, once its identity is
// complete (the session is attached): Mosquitto checks the same write
// permission before it sends a will. Owner only.
func (l *loop) checkWill(c *client) {
	if c.x == nil || c.x.will == nil || l.mayPublish(c, c.x.will.m.Topic) {
		return
	}
	l.event(evDeniedPublish)
	if l.srv.logInfo {
		l.srv.log.Info("will dropped: the client may not publish to its topic", "client_id", c.clientID(), "topic", string(c.x.will.m.Topic))
	}
	c.x.will = nil
}
