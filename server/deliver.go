package server

import (
	"github.com/cp7/cp7/codec"
)

// deliverOpts says how one message goes to one session: the subscription's
// granted QoS, the retain flag to send, subscription identifiers, and the
// shared group it came through.
type deliverOpts struct {
	qos    byte
	retain bool
	subIDs []uint32
	group  string // "" unless delivered through $share/{group}/{filter}
	filter string
	ref    uint64 // the session's stored reference to the message; 0 if none
}

// own returns m itself if it may be kept, else one copy shared by every
// delivery of the message being routed in this turn.
func (l *loop) own(m *Message) *Message {
	if m.owned {
		return m
	}
	if l.ownSrc == m && l.ownDst != nil {
		return l.ownDst
	}
	l.ownSrc, l.ownDst = m, m.own()
	return l.ownDst
}

// deliver sends m to s with opt. Owner only: if s moved to another loop in
// the meantime, the delivery follows it.
func (l *loop) deliver(s *session, m *Message, opt deliverOpts) {
	if s.removed {
		if opt.ref != 0 { // written after the session's record was deleted
			l.sbatch().DeleteRef(s.id, opt.ref)
			l.unrefMsg(m)
		}
		return
	}
	if owner := s.owner.Load(); owner != l {
		l.handOver(owner, s, l.own(m), opt)
		return
	}
	qos := min(m.QoS, opt.qos)
	c := s.c
	if l.srv.checkTopics && c != nil && !l.mayReceive(c, m.Topic) {
		// Read permission is checked per delivered topic, not only at
		// SUBSCRIBE: a subscription to "#" carries only what the client
		// may read, retained messages included (Mosquitto does the same).
		// An offline session's messages are checked when they are sent.
		l.count.deniedReceive++
		return
	}
	if qos == 0 {
		if c == nil || c.state != stateConnected || c.closing {
			l.drop(dropOffline)
			return
		}
		if c.queuedBytes() > l.srv.cfg.MaxOutboundBytes {
			l.slowConsumer(c)
			return
		}
		l.writePublish(c, m, 0, 0, false, &opt)
		return
	}
	o := l.newOutbound()
	o.m, o.opt, o.qos = l.own(m), opt, qos
	if len(opt.subIDs) > 0 {
		o.opt.subIDs = append([]uint32(nil), opt.subIDs...)
	}
	if opt.ref != 0 && !s.isDurable() {
		l.sbatch().DeleteRef(s.id, opt.ref) // the session stopped being persistent meanwhile
		o.opt.ref = 0
		l.unrefMsg(o.m)
	}
	if c != nil && c.state == stateConnected && !c.closing && s.active() < l.window(c) && (s.st == nil || s.st.unsent == 0) {
		l.sendOutbound(c, s, o)
		return
	}
	l.enqueue(s, o)
}

// slowConsumer drops a QoS 0 delivery to a connection whose outbound bytes
// passed the limit, and disconnects it past twice the limit.
func (l *loop) slowConsumer(c *client) {
	l.drop(dropSlow)
	if c.queuedBytes() > 2*l.srv.cfg.MaxOutboundBytes {
		l.srv.log.Warn("disconnecting slow consumer", "client_id", c.clientID(),
			"queued_bytes", c.queuedBytes(), "limit", l.srv.cfg.MaxOutboundBytes)
		l.disconnect(c, codec.ServerBusy)
	}
}

// window is how many QoS 1/2 deliveries may be unacknowledged at once: the
// broker's limit, and a v5 client's Receive Maximum [MQTT-3.3.4-9].
func (l *loop) window(c *client) int {
	w := l.srv.cfg.MaxInflight
	if c.v5 != nil && int(c.v5.receiveMax) < w {
		w = int(c.v5.receiveMax)
	}
	return w
}

// enqueue keeps o until the window has room or the client returns. A full
// queue drops its oldest message and counts it.
func (l *loop) enqueue(s *session, o *outbound) {
	max := l.srv.cfg.MaxQueued
	if max == 0 {
		l.drop(dropQueueFull)
		l.dropRef(s, o)
		return
	}
	st := l.stateOf(s)
	if len(st.queue) >= max {
		l.dropOldest(s, st)
		l.drop(dropQueueFull)
	} else {
		l.ctr.queued.Add(1)
	}
	size := o.size()
	if maxBytes := l.srv.cfg.MaxQueuedBytes; maxBytes > 0 {
		if size > maxBytes {
			l.srv.limitHit(limQueuedBytes, s.id, "", "message larger than the maximum queued bytes")
			l.dropRef(s, o)
			l.freeOutbound(o)
			return
		}
		for st.queuedBytes+size > maxBytes && len(st.queue) > 0 {
			l.dropOldest(s, st)
			l.ctr.queued.Add(-1)
			l.srv.limitHit(limQueuedBytes, s.id, "", "session queue holds the maximum queued bytes")
		}
	}
	st.queuedBytes += size
	st.queue = append(st.queue, o)
}

// dropOldest drops the head of s's queue (st), and its stored reference.
func (l *loop) dropOldest(s *session, st *sessionState) {
	o := st.queue[0]
	l.dropRef(s, o)
	copy(st.queue, st.queue[1:])
	st.queue[len(st.queue)-1] = nil
	st.queue = st.queue[:len(st.queue)-1]
	st.queuedBytes -= o.size()
}

// size is what a queued delivery counts against MaxQueuedBytes.
func (o *outbound) size() int { return len(o.m.Topic) + len(o.m.Payload) }

// sendOutbound gives o a packet id and an in-flight slot and writes it.
func (l *loop) sendOutbound(c *client, s *session, o *outbound) {
	st := l.stateOf(s)
	o.pid = st.allocID()
	o.state = outWaitAck
	o.sentAt = l.now.Unix()
	st.inflight = append(st.inflight, o)
	l.ctr.inflight.Add(1)
	if l.sendAfterCommit(c, s, o) {
		return // its packet id must be stored before the receiver sees it
	}
	if !l.writePublish(c, o.m, o.qos, o.pid, false, &o.opt) {
		l.removeInflight(s, o.pid) // too large for this client: dropped and counted
		l.dropRef(s, o)
		l.freeOutbound(o)
	}
}

// fillWindow moves queued messages into the in-flight window while it has
// room, dropping those whose expiry passed [MQTT-3.3.2-5].
func (l *loop) fillWindow(s *session) {
	c, st := s.c, s.st
	if c == nil || c.state != stateConnected || c.closing || st == nil {
		return
	}
	w := l.window(c)
	for st.unsent > 0 && s.active() < w {
		for _, o := range st.inflight {
			if o.unsent {
				o.unsent = false
				st.unsent--
				l.resend(c, o)
				break
			}
		}
	}
	for st.unsent == 0 && s.active() < w && len(st.queue) > 0 {
		o := st.queue[0]
		st.queue[0] = nil
		st.queue = st.queue[1:]
		st.queuedBytes -= o.size()
		l.ctr.queued.Add(-1)
		if o.m.expired(l.now) {
			l.drop(dropExpired)
			l.dropRef(s, o)
			continue
		}
		if l.srv.checkTopics && !l.mayReceive(c, o.m.Topic) {
			l.count.deniedReceive++ // queued while offline, or before a reload
			l.freeOutbound(o)
			continue
		}
		l.sendOutbound(c, s, o)
	}
	if len(st.queue) == 0 {
		st.queue = nil
	}
}

// resume re-sends the in-flight window after a session resumes: PUBLISH
// with DUP for those not yet acknowledged, PUBREL for those past PUBREC
// [MQTT-4.4.0-1].
// Only as many as the client's (new) Receive Maximum allows go at once; the
// rest follow, with their original ids, as acknowledgements free the window.
func (l *loop) resume(c *client, s *session) {
	st := s.st
	if st == nil {
		return
	}
	if l.srv.checkTopics {
		l.dropUnreadable(c, st)
	}
	w := l.window(c)
	st.unsent = 0
	for i, o := range st.inflight {
		o.unsent = i >= w
		if o.unsent {
			st.unsent++
			continue
		}
		l.resend(c, o)
	}
	l.fillWindow(s)
}

// dropUnreadable removes from the in-flight window the deliveries the
// resuming client may no longer read (its user name or the rules changed),
// as Mosquitto does on reconnect. Those past PUBREC stay: the message was
// delivered, only its PUBREL is due.
func (l *loop) dropUnreadable(c *client, st *sessionState) {
	kept := st.inflight[:0]
	for _, o := range st.inflight {
		if o.state != outWaitComp && !l.mayReceive(c, o.m.Topic) {
			l.count.deniedReceive++
			l.freeOutbound(o)
			continue
		}
		kept = append(kept, o)
	}
	clear(st.inflight[len(kept):])
	st.inflight = kept
}

// resend re-sends one in-flight delivery with its original packet id.
func (l *loop) resend(c *client, o *outbound) {
	if o.state == outWaitComp {
		l.writeAck(c, codec.PUBREL, o.pid, codec.Success)
		return
	}
	l.writePublish(c, o.m, o.qos, o.pid, true, &o.opt)
}

// active is the number of in-flight deliveries the client has been sent.
func (s *session) active() int {
	if s.st == nil {
		return 0
	}
	return len(s.st.inflight) - s.st.unsent
}

// allocID returns a packet identifier not in use by an in-flight delivery
// [MQTT-2.2.1-2, 2.3.1-2].
func (st *sessionState) allocID() uint16 {
	for range 65536 {
		st.nextID++
		if st.nextID == 0 {
			st.nextID = 1
		}
		if st.findInflight(st.nextID) < 0 {
			return st.nextID
		}
	}
	return 0 // unreachable: the window is far below 65535
}

func (s *session) findInflight(pid uint16) int {
	if s.st == nil {
		return -1
	}
	return s.st.findInflight(pid)
}

func (st *sessionState) findInflight(pid uint16) int {
	for i, o := range st.inflight {
		if o.pid == pid {
			return i
		}
	}
	return -1
}

func (l *loop) removeInflight(s *session, pid uint16) *outbound {
	i := s.findInflight(pid)
	if i < 0 {
		return nil
	}
	l.ctr.inflight.Add(-1)
	st := s.st
	o := st.inflight[i]
	if o.unsent {
		st.unsent--
	}
	copy(st.inflight[i:], st.inflight[i+1:])
	st.inflight[len(st.inflight)-1] = nil
	st.inflight = st.inflight[:len(st.inflight)-1]
	return o
}

// writePublish encodes one PUBLISH for c into its turn buffer. It returns
// false if the packet exceeds the client's Maximum Packet Size: the delivery
// is dropped and counted [MQTT-3.1.2-24, 3.1.2-25].
func (l *loop) writePublish(c *client, m *Message, qos byte, pid uint16, dup bool, opt *deliverOpts) bool {
	p := &l.encode
	p.Topic, p.Payload = m.Topic, m.Payload
	p.QoS, p.PacketID, p.Dup, p.Retain = qos, pid, dup, opt.retain
	b := c.buf()
	start := len(b)
	if c.v5 == nil {
		b = codec.AppendPublish(b, p, c.version)
		l.count.msgsOut[qos]++
		l.count.bytesOut[qos] += uint64(len(b) - start)
		c.setBuf(b)
		return true
	}
	alias, newAlias := l.outboundProps(c, m, opt)
	if alias != 0 && !newAlias {
		p.Topic = nil // [MQTT-3.3.2-12] the alias stands for the topic
	}
	b = codec.AppendPublish(b, p, codec.Version5)
	if max := c.v5.maxPacket; max != 0 && uint32(len(b)-start) > max {
		c.setBuf(b[:start])
		l.drop(dropTooLarge)
		return false
	}
	l.count.msgsOut[qos]++
	l.count.bytesOut[qos] += uint64(len(b) - start)
	if newAlias {
		c.v5.commitAlias(m.Topic, alias)
	}
	c.setBuf(b)
	return true
}

// writeAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP.
func (l *loop) writeAck(c *client, t codec.PacketType, pid uint16, rc codec.ReasonCode) {
	a := &l.pkt.ack
	a.Type, a.PacketID, a.ReasonCode = t, pid, rc
	a.Props.Reset()
	c.setBuf(codec.AppendAck(c.buf(), a, c.version))
	l.checkResponses(c)
}

// checkResponses applies MaxOutboundBytes to the answers a client's own
// packets cause (acks, PINGRESP): they cannot be dropped, so a client that
// sends but does not read is not read either until it catches up.
// This turn's own bytes do not count here (they usually go out at the end
// of the turn); what the socket could not take does, and flush checks again.
func (l *loop) checkResponses(c *client) {
	if c.gnetHolds && c.gc.OutboundBuffered() > l.srv.cfg.MaxOutboundBytes {
		l.pauseInput(c, limOutbound, "the client does not read what it is sent")
	}
}
