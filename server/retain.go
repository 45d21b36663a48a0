package server

import (
	"github.com/cp7/cp7/codec"
)

// retain stores, replaces or (empty payload) deletes the retained message of
// m's topic [MQTT-3.3.1-5..7]. The stored copy keeps QoS and properties.
func (l *loop) retain(m *Message) {
	if len(m.Payload) == 0 {
		l.srv.retained.Delete(string(m.Topic)) // [MQTT-3.3.1-6, 3.3.1-7]
		l.storeRetained(m, true)
		if c := l.srv.cluster; c != nil && !m.remote {
			c.Retain(string(m.Topic), nil)
		}
		return
	}
	rm := *l.own(m)
	rm.From = nil // a retained message outlives its publisher's session
	rm.Retain = true
	rm.sid, rm.srefs = 0, 0 // stored under its topic, not as a session's message
	l.srv.retained.Set(string(rm.Topic), &rm)
	l.storeRetained(&rm, false)
	if c := l.srv.cluster; c != nil && !m.remote {
		c.Retain(string(rm.Topic), AppendBusMessage(nil, &rm, l.now))
	}
}

// sendRetained delivers the retained messages matching a new subscription,
// with the retain flag set [MQTT-3.3.1-8, 3.8.4-4]. Retain Handling 1 sends
// them only for a new subscription, 2 never [MQTT-3.3.1-9..11]; shared
// subscriptions get none [MQTT-4.8.2 (v5 3.8.4)].
func (l *loop) sendRetained(s *session, sub *codec.Subscription, granted byte, existed bool, subID uint32, shared bool) {
	if shared || sub.RetainHandling == 2 || sub.RetainHandling == 1 && existed {
		return
	}
	var ids []uint32
	if subID != 0 {
		ids = []uint32{subID}
	}
	l.srv.retained.Match(sub.Filter, func(_ string, m *Message) bool {
		if m.expired(l.now) {
			return true
		}
		l.deliver(s, m, deliverOpts{qos: granted, retain: true, subIDs: ids})
		return true
	})
}

// retainedCount is the number of retained messages (for $SYS and tests).
func (srv *Server) retainedCount() int { return srv.retained.Count() }

var _ = codec.Success
