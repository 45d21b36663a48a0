package server

import (
	"github.com/cp7/cp7/codec"
)

// retain stores, replaces or (empty payload) deletes the retained message of
// m's topic [MQTT-3.3.1-5..7]. The stored copy keeps QoS and properties.
//
// MaxRetained and MaxRetainedBytes bound the tree: a message that would pass
// them is not stored (it is still delivered) and the limit is counted.
func (l *loop) retain(m *Message) {
	srv := l.srv
	if len(m.Payload) == 0 {
		if old, ok := srv.retained.Remove(string(m.Topic)); ok { // [MQTT-3.3.1-6, 3.3.1-7]
			srv.retainedBytes.Add(-retainedSize(old))
		}
		l.storeRetained(m, true)
		if c := srv.cluster; c != nil && !m.remote {
			c.Retain(string(m.Topic), nil)
		}
		return
	}
	size := int64(len(m.Topic) + len(m.Payload))
	cfg := &srv.cfg
	if cfg.MaxRetainedBytes > 0 && srv.retainedBytes.Load()+size > cfg.MaxRetainedBytes ||
		cfg.MaxRetained > 0 && srv.retained.Count() >= cfg.MaxRetained {
		// A replacement of an existing topic may still fit: check exactly.
		old, had := srv.retained.Get(string(m.Topic))
		var oldSize int64
		if had {
			oldSize = retainedSize(old)
		}
		if cfg.MaxRetainedBytes > 0 && srv.retainedBytes.Load()-oldSize+size > cfg.MaxRetainedBytes ||
			!had && cfg.MaxRetained > 0 && srv.retained.Count() >= cfg.MaxRetained {
			id := ""
			if m.From != nil {
				id = m.From.id
			}
			srv.limitHit(limRetained, id, "", "retained message not stored: the retained store is full")
			return
		}
	}
	rm := *l.own(m)
	rm.From = nil // a retained message outlives its publisher's session
	rm.Retain = true
	rm.sid, rm.srefs = 0, 0 // stored under its topic, not as a session's message
	srv.retainedBytes.Add(size)
	if old, had := srv.retained.Replace(string(rm.Topic), &rm); had {
		srv.retainedBytes.Add(-retainedSize(old))
	}
	l.storeRetained(&rm, false)
	if c := srv.cluster; c != nil && !m.remote {
		c.Retain(string(rm.Topic), AppendBusMessage(nil, &rm, l.now))
	}
}

func retainedSize(m *Message) int64 { return int64(len(m.Topic) + len(m.Payload)) }

// sendRetained queues the retained messages matching a new subscription
// for delivery with the retain flag set [MQTT-3.3.1-8, 3.8.4-4]. Retain
// Handling 1 sends them only for a new subscription, 2 never
// [MQTT-3.3.1-9..11]; shared subscriptions get none [MQTT-4.8.2 (v5 3.8.4)].
//
// They are paced by the socket (pumpRetained): a `#` subscriber over half a
// million retained messages gets every one as it reads, instead of the slow
// consumer limit dropping all but the first few thousand.
func (l *loop) sendRetained(s *session, sub *codec.Subscription, granted byte, existed bool, subID uint32, shared bool) {
	if shared || sub.RetainHandling == 2 || sub.RetainHandling == 1 && existed {
		return
	}
	c := s.c
	if c == nil {
		return
	}
	var ids []uint32
	if subID != 0 {
		ids = []uint32{subID}
	}
	b := &retainedBatch{opt: deliverOpts{qos: granted, retain: true, subIDs: ids}}
	l.srv.retained.Match(sub.Filter, func(_ string, m *Message) bool {
		b.msgs = append(b.msgs, m)
		return true
	})
	if len(b.msgs) == 0 {
		return
	}
	x := l.input(c)
	x.retainedQ = append(x.retainedQ, b)
	if len(x.retainedQ) == 1 && !l.pumpRetained(c) {
		l.retainedWait = append(l.retainedWait, c)
	}
}

// retainedBatch is the retained messages one subscription still has to get.
type retainedBatch struct {
	opt  deliverOpts
	msgs []*Message
	next int
}

// pumpRetained delivers c's queued retained messages while its socket and
// in-flight window have room; it reports whether all went. Owner only.
func (l *loop) pumpRetained(c *client) bool {
	x := l.inputIf(c)
	s := c.sess
	if x == nil || s == nil || c.state != stateConnected || c.closing {
		if x != nil {
			x.retainedQ = nil
		}
		return true
	}
	limit := l.srv.cfg.MaxOutboundBytes / 2
	for len(x.retainedQ) > 0 {
		if c.queuedBytes() >= limit {
			return false
		}
		if st := s.st; st != nil && (len(st.queue) > 0 || s.active() >= l.window(c)) {
			return false // the in-flight window is full: its acks bring us back
		}
		b := x.retainedQ[0]
		m := b.msgs[b.next]
		b.msgs[b.next] = nil
		b.next++
		if b.next == len(b.msgs) {
			x.retainedQ[0] = nil
			x.retainedQ = x.retainedQ[1:]
		}
		if !m.expired(l.now) {
			l.deliver(s, m, b.opt)
		}
	}
	x.retainedQ = nil
	return true
}

// sendRetainedQueued goes on with the retained messages of the connections
// that were waiting for their socket; run at the end of turns and on ticks.
func (l *loop) sendRetainedQueued() {
	if len(l.retainedWait) == 0 {
		return
	}
	list := l.retainedWait
	l.retainedWait = nil
	for i, c := range list {
		list[i] = nil
		if x := l.inputIf(c); c.state == stateClosed || x == nil || len(x.retainedQ) == 0 {
			continue
		}
		if !l.pumpRetained(c) {
			l.retainedWait = append(l.retainedWait, c)
		}
	}
}

// retainedCount is the number of retained messages (for $SYS and tests).
func (srv *Server) retainedCount() int { return srv.retained.Count() }

var _ = codec.Success
