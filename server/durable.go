package server

import (
	"sync/atomic"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server/store"
)

// Durability (docs/DESIGN.md "Durable store"). With Config.Store set, a loop
// collects its turn's store writes in l.sb and endTurn hands them to the
// store's writer in one Submit, before it posts the turn's hand-overs (so a
// reference a publisher wrote is always committed before, or with, whatever
// its receiver writes about it). A QoS 1/2 publish whose message had to be
// written (a persistent session receives it, it is retained, or its QoS 2
// id must survive) waits in l.waiting until the writer reports its batch
// committed; only then are its deliveries made and PUBACK/PUBREC sent. Any
// later QoS 1/2 publish on the loop waits behind it, so acks keep the order
// of the publishes [MQTT-4.6.0-2, 4.6.0-3]. QoS 0 and clean sessions never
// reach this file.

// pendingPub is a packet waiting for its loop's batch to commit: an
// inbound publish's deliveries and PUBACK/PUBREC, or (with o set) a QoS 2
// PUBLISH to a persistent session, or (with rel set) the PUBREL that
// answers its PUBREC. Those two wait so that the receiver never sees a
// packet id that a restart would forget: the broker then re-sends with the
// same id (and the receiver's QoS 2 state spots the duplicate).
type pendingPub struct {
	seq uint64 // the loop's batch that must be committed first
	c   *client
	pid uint16
	qos byte
	rc  codec.ReasonCode
	m   *Message
	xs  []xfer    // deliveries to make once committed
	o   *outbound // QoS 2 PUBLISH to write once committed
	s   *session  // o's session
	rel bool      // PUBREL pid to write once committed
}

// sbatch returns this turn's store batch, taking one on first use.
func (l *loop) sbatch() *store.Batch {
	l.sbOps++
	if l.sb == nil {
		l.sb = l.srv.cfg.Store.NewBatch()
	}
	return l.sb
}

// submitStore hands this turn's writes to the store. Called by endTurn
// before the hand-overs are posted.
func (l *loop) submitStore() {
	b := l.sb
	if b == nil {
		return
	}
	l.sb = nil
	l.sbSeq++
	seq := l.sbSeq
	l.srv.cfg.Store.Submit(b, func(err error) {
		if !l.post(func() { l.storeDone(seq, err) }) {
			// The loop ended (its TLS/WebSocket connection closed): its
			// waiting publishes' deliveries still go out, from the parking loop.
			if p := l.srv.parking; p != nil {
				p.post(func() { p.finishWaiting(l, seq, err) })
			}
		}
	})
}

// finishWaiting completes another (ended) loop's waiting publishes.
func (l *loop) finishWaiting(from *loop, seq uint64, err error) {
	w := from.waiting
	from.waiting = nil
	for i := range w {
		l.completePub(&w[i], err)
	}
}

// storeDone runs on the loop when its batch seq was committed (err nil) or
// refused.
func (l *loop) storeDone(seq uint64, err error) {
	l.now = time.Now()
	l.sbDone = seq
	for c, t := range l.storeTags {
		if t <= seq {
			delete(l.storeTags, c)
		}
	}
	// Tags are per client (waitTagFor), so the list is not sorted: finish
	// what this commit covers and keep the rest in order. What completing
	// appends (sends that wait for their own commit) goes after it.
	w := l.waiting
	l.waiting = nil
	var kept []pendingPub
	for i := range w {
		if w[i].seq <= seq {
			l.completePub(&w[i], err)
		} else {
			kept = append(kept, w[i])
		}
	}
	l.waiting = append(kept, l.waiting...)
}

// completePub makes a waiting publish's deliveries and acknowledges it; a
// failed commit refuses it instead (v5: QuotaExceeded; 3.1.1 cannot say
// so, so the client is disconnected and will send it again).
func (l *loop) completePub(p *pendingPub, err error) {
	c := p.c
	live := c != nil && c.l == l && c.state == stateConnected && !c.closing
	if p.o != nil || p.rel {
		l.completeOutbound(p, live && err == nil)
		return
	}
	if err != nil {
		l.event(evRefusedStore)
		for i := range p.xs {
			if p.xs[i].opt.ref != 0 {
				l.unrefMsg(p.xs[i].m)
			}
		}
		if !live {
			return
		}
		if c.v5 == nil {
			if l.srv.logInfo {
				l.srv.log.Info("closing connection", "client_id", c.clientID(), "reason", "a QoS 1/2 publish could not be stored", "error", err.Error())
			}
			c.end()
			return
		}
		if p.qos == 2 && c.sess != nil {
			c.sess.dropQoS2(p.pid)
		}
		l.writeAck(c, ackType(p.qos), p.pid, codec.QuotaExceeded)
		return
	}
	for i := range p.xs {
		x := &p.xs[i]
		if owner := x.s.owner.Load(); owner != l {
			l.handOver(owner, x.s, x.m, x.opt)
		} else {
			l.deliver(x.s, x.m, x.opt)
		}
	}
	if live && p.qos > 0 {
		l.writeAck(c, ackType(p.qos), p.pid, p.rc)
	}
}

func ackType(qos byte) codec.PacketType {
	if qos == 2 {
		return codec.PUBREC
	}
	return codec.PUBACK
}

// waitTagFor is the batch that client c's acknowledgement must wait for,
// or 0 when it may be sent at once: this turn's batch when the publish
// wrote to it, else the batch c's previous acknowledgement waits for, if
// that is not committed yet (acks keep the order of the publishes
// [MQTT-4.6.0-2, 4.6.0-3]). Other clients' uncommitted writes do not delay
// c: a clean session's QoS 1 is answered at once.
func (l *loop) waitTagFor(c *client, wrote bool) uint64 {
	if wrote {
		return l.sbSeq + 1
	}
	if t := l.storeTags[c]; t > l.sbDone {
		return t
	}
	return 0
}

// waitFor queues p until its batch commits; a client's acknowledgements
// behind it wait too.
func (l *loop) waitFor(p pendingPub) {
	if p.c != nil && p.o == nil && !p.rel {
		if l.storeTags == nil {
			l.storeTags = make(map[*client]uint64)
		}
		l.storeTags[p.c] = p.seq
	}
	l.waiting = append(l.waiting, p)
}

// storeMatched writes m once and a reference for every delivery that
// markDurable marked, replacing the marks in l.refs with the references'
// sequence numbers. It returns the stored copy of m, to route.
func (l *loop) storeMatched(m *Message) *Message {
	r := &l.match
	st := l.srv.cfg.Store
	om := l.own(m)
	b := l.sbatch()
	if om.sid == 0 {
		om.sid = st.NextSeq()
		var sm store.Msg
		toStoreMsg(om, &sm, &l.sbuf)
		b.PutMsg(om.sid, &sm)
	}
	for i := range r.Deliveries {
		if l.refs[i] == 0 {
			continue
		}
		d := &r.Deliveries[i]
		s := d.Client.(*session)
		ref := store.Ref{Seq: st.NextSeq(), Msg: om.sid, QoS: min(m.QoS, d.QoS),
			Retain: d.RetainAsPublished && m.Retain, SubIDs: d.SubIDs}
		if d.Group != "" {
			ref.Group, ref.Filter = d.Group, d.Filter
		}
		b.PutRef(s.id, &ref)
		atomic.AddInt32(&om.srefs, 1)
		l.refs[i] = ref.Seq
	}
	return om
}

// unrefMsg drops one session reference of a stored message, deleting the
// message with its last one.
func (l *loop) unrefMsg(m *Message) {
	if m.sid != 0 && atomic.AddInt32(&m.srefs, -1) == 0 {
		l.sbatch().DeleteMsg(m.sid)
	}
}

// dropRef forgets o's stored reference (o leaves s for good). Owner only.
func (l *loop) dropRef(s *session, o *outbound) {
	if o.opt.ref == 0 {
		return
	}
	if s.isDurable() {
		l.sbatch().DeleteRef(s.id, o.opt.ref)
	}
	o.opt.ref = 0
	l.unrefMsg(o.m)
}

// saveRef rewrites o's reference with its state and packet id (QoS 2: the
// id must survive a restart so the receiver can spot a duplicate).
func (l *loop) saveRef(s *session, o *outbound) {
	if o.opt.ref == 0 || !s.isDurable() {
		return
	}
	state := store.RefSent
	if o.state == outWaitComp {
		state = store.RefReceived
	}
	ref := store.Ref{Seq: o.opt.ref, Msg: o.m.sid, QoS: o.qos, Retain: o.opt.retain, State: state,
		PID: o.pid, SubIDs: o.opt.subIDs, Group: o.opt.group, Filter: o.opt.filter}
	l.sbatch().PutRef(s.id, &ref)
}

// saveSession writes s's record when it is persistent (or forgets it when
// it stopped being so). Owner only.
func (l *loop) saveSession(s *session) {
	if l.srv.cfg.Store == nil {
		return
	}
	if s.expiry == 0 || s.removed {
		l.forgetSession(s)
		return
	}
	rec := store.Session{ID: s.id, Expiry: s.expiry}
	if s.c != nil {
		rec.Version = s.c.version
	}
	if st := s.st; st != nil && s.c == nil {
		rec.ExpireAt = st.expireAt
		if w := st.pendingWill; w != nil {
			var wm store.Msg
			var buf []byte
			toStoreMsg(w.m, &wm, &buf)
			rec.Will, rec.WillAt = &wm, st.willAt
		}
	}
	for _, sub := range s.subs {
		rec.Subs = append(rec.Subs, store.Sub{Filter: sub.Filter, QoS: sub.QoS, NoLocal: sub.NoLocal,
			RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling, ID: sub.ID})
	}
	l.sbatch().PutSession(&rec)
	s.setFlag(flagDurable, true)
}

// forgetSession deletes s's record and references. Owner only.
func (l *loop) forgetSession(s *session) {
	if l.srv.cfg.Store == nil || !s.isDurable() {
		return
	}
	s.setFlag(flagDurable, false)
	l.sbatch().DeleteSession(s.id)
}

// unrefAll drops the stored references of everything s holds (clean start,
// session end). Owner only.
func (l *loop) unrefAll(s *session) {
	if s.st == nil || l.srv.cfg.Store == nil {
		return
	}
	for _, list := range [2][]*outbound{s.st.inflight, s.st.queue} {
		for _, o := range list {
			if o.opt.ref != 0 {
				o.opt.ref = 0
				l.unrefMsg(o.m)
			}
		}
	}
}

// toStoreMsg converts m for the store; buf keeps the encoded properties.
func toStoreMsg(m *Message, sm *store.Msg, buf *[]byte) {
	*sm = store.Msg{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain}
	if !m.Expiry.IsZero() {
		sm.Expiry = m.Expiry.UnixMilli()
	}
	if m.Props != nil {
		*buf = codec.AppendProperties((*buf)[:0], m.Props)
		sm.Props = *buf
	}
}

// fromStoreMsg makes an owned Message of a stored one.
func fromStoreMsg(sm *store.Msg) *Message {
	m := &Message{Topic: sm.Topic, Payload: sm.Payload, QoS: sm.QoS, Retain: sm.Retain, owned: true}
	if sm.Expiry != 0 {
		m.Expiry = time.UnixMilli(sm.Expiry)
	}
	if len(sm.Props) > 0 {
		var p codec.Properties
		if _, err := codec.DecodeProperties(sm.Props, codec.PUBLISH, &p); err == nil {
			m.Props = &p
		}
	}
	return m
}

func (s *session) dropQoS2(pid uint16) {
	if st := s.st; st != nil {
		st.qos2in.remove(pid)
	}
}

// storeRetained writes a retained message change when the store is on.
func (l *loop) storeRetained(m *Message, del bool) {
	if l.srv.cfg.Store == nil {
		return
	}
	if del {
		l.sbatch().DeleteRetained(m.Topic)
		return
	}
	var sm store.Msg
	toStoreMsg(m, &sm, &l.sbuf)
	l.sbatch().PutRetained(&sm)
}

var _ = router.Sub{}

// markDurable fills l.refs with 1 for each of l.match's deliveries that
// goes to a persistent session at QoS 1 or 2, and returns how many.
func (l *loop) markDurable(m *Message) int {
	r := &l.match
	l.refs = l.refs[:0]
	n := 0
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		var ref uint64
		if s, ok := d.Client.(*session); ok && s.isDurable() && min(m.QoS, d.QoS) > 0 {
			ref = 1
			n++
		}
		l.refs = append(l.refs, ref)
	}
	return n
}

// publishDurable handles a QoS 1/2 PUBLISH with the store on: it writes
// what must survive (the message and a reference per persistent receiver,
// the retained message, the QoS 2 id of a persistent publisher) and
// delivers and acknowledges once that is committed.
func (l *loop) publishDurable(c *client, p *codec.Publish, m *Message) error {
	s := c.sess
	l.srv.router.Match(m.Topic, s, &l.match)
	qos2 := p.QoS == 2 && s.isDurable()
	n := l.markDurable(m)
	if (n > 0 || p.Retain || qos2) && !l.srv.cfg.Store.Accepting() {
		l.event(evRefusedStore)
		if c.v5 == nil {
			// 3.1.1 has no way to say "not now" in PUBACK/PUBREC.
			return protoErr(codec.QuotaExceeded, "a QoS 1/2 publish cannot be stored (disk full or store error); it may be sent again after reconnecting")
		}
		if tag := l.waitTagFor(c, false); tag != 0 {
			l.waitFor(pendingPub{seq: tag, c: c, pid: p.PacketID, qos: p.QoS, rc: codec.QuotaExceeded})
			return nil
		}
		l.writeAck(c, ackType(p.QoS), p.PacketID, codec.QuotaExceeded)
		return nil
	}
	ops := l.sbOps
	l.toBus(m) // other nodes: not held for this node's store
	if p.Retain {
		l.retain(m)
	}
	if n > 0 {
		m = l.storeMatched(m)
	}
	if qos2 {
		l.sbatch().PutQoS2(s.id, p.PacketID)
	}
	rc := codec.Success
	clustered := l.srv.cluster != nil
	if len(l.match.Deliveries) == 0 && !clustered && c.v5 != nil {
		rc = codec.NoMatchingSubscribers
	}
	tag := l.waitTagFor(c, l.sbOps != ops)
	if tag == 0 {
		l.deliverMatched(m, n > 0)
		l.ackPublish(c, p, rc)
		return nil
	}
	m = l.own(m)
	pp := pendingPub{seq: tag, c: c, pid: p.PacketID, qos: p.QoS, rc: rc, m: m}
	r := &l.match
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		ds, ok := d.Client.(*session)
		if !ok || clustered && d.Shared {
			continue // shared groups span nodes: the bus picks the member
		}
		opt := deliverOpts{qos: d.QoS, group: d.Group, filter: d.Filter, retain: d.RetainAsPublished && m.Retain}
		if len(d.SubIDs) > 0 {
			opt.subIDs = append([]uint32(nil), d.SubIDs...) // the match scratch is reused
		}
		if n > 0 {
			opt.ref = l.refs[i]
		}
		pp.xs = append(pp.xs, xfer{s: ds, m: m, opt: opt})
	}
	if p.QoS == 2 {
		st := l.stateOf(s)
		st.qos2in.add(p.PacketID) // a re-send meanwhile is known (its PUBREC waits too)
	}
	l.waitFor(pp)
	return nil
}

// ackAfterCommit queues an acknowledgement behind the loop's uncommitted
// publishes, so acks keep the publishes' order; false when nothing waits
// and the caller may answer at once.
func (l *loop) ackAfterCommit(c *client, p *codec.Publish, rc codec.ReasonCode) bool {
	if l.srv.cfg.Store == nil || p.QoS == 0 {
		return false
	}
	tag := l.waitTagFor(c, false)
	if tag == 0 {
		return false
	}
	if p.QoS == 2 && rc < 0x80 && !c.sess.hasQoS2(p.PacketID) {
		st := l.stateOf(c.sess)
		st.qos2in.add(p.PacketID)
	}
	l.waitFor(pendingPub{seq: tag, c: c, pid: p.PacketID, qos: p.QoS, rc: rc})
	return true
}

// completeOutbound writes a QoS 2 PUBLISH or PUBREL whose state is now
// committed, if its connection is still the session's. (A new connection
// gets them again from resume.)
func (l *loop) completeOutbound(p *pendingPub, ok bool) {
	c := p.c
	if !ok || c.sess == nil {
		return
	}
	s := c.sess
	if p.rel {
		l.writeAck(c, codec.PUBREL, p.pid, codec.Success)
		return
	}
	o := p.o
	if p.s != s || s.findInflight(o.pid) < 0 || s.st.inflight[s.findInflight(o.pid)] != o || o.state != outWaitAck {
		return
	}
	if !l.writePublish(c, o.m, o.qos, o.pid, false, &o.opt) {
		l.removeInflight(s, o.pid) // too large for this client: dropped and counted
		l.dropRef(s, o)
		l.freeOutbound(o)
	}
}

// sendAfterCommit defers writing o (a QoS 2 delivery whose packet id was
// just stored) until that write commits. It returns false when the store
// is off or o has no stored reference: write it now.
func (l *loop) sendAfterCommit(c *client, s *session, o *outbound) bool {
	if o.opt.ref == 0 || o.qos != 2 || !s.isDurable() {
		return false
	}
	l.saveRef(s, o)
	l.waitFor(pendingPub{seq: l.sbSeq + 1, c: c, o: o, s: s}) // saveRef wrote to this turn's batch
	return true
}

// pubrelAfterCommit sends PUBREL once o's PUBREC'd state is stored.
func (l *loop) pubrelAfterCommit(c *client, s *session, o *outbound) bool {
	if o.opt.ref == 0 || !s.isDurable() {
		return false
	}
	l.saveRef(s, o)
	l.waitFor(pendingPub{seq: l.sbSeq + 1, c: c, pid: o.pid, rel: true}) // saveRef wrote to this turn's batch
	return true
}

// persistAdopted writes a session handed over by another node (cluster
// take-over) to this node's store: its record, each queued or in-flight
// QoS 1/2 message with a reference in its state, and its inbound QoS 2 ids,
// so the session survives this node's restart as it would have the old
// node's. Owner only; a no-op without a store or for a session that ends
// with its connection.
func (l *loop) persistAdopted(s *session) {
	st := l.srv.cfg.Store
	if st == nil || s.expiry == 0 {
		return
	}
	l.saveSession(s)
	ss := s.st
	if ss == nil {
		return
	}
	b := l.sbatch()
	put := func(o *outbound) {
		if o.qos == 0 {
			return
		}
		m := o.m
		if m.sid == 0 {
			m.sid = st.NextSeq()
			var sm store.Msg
			toStoreMsg(m, &sm, &l.sbuf)
			b.PutMsg(m.sid, &sm)
		}
		atomic.AddInt32(&m.srefs, 1)
		o.opt.ref = st.NextSeq()
		ref := store.Ref{Seq: o.opt.ref, Msg: m.sid, QoS: o.qos, Retain: o.opt.retain, State: store.RefQueued,
			SubIDs: o.opt.subIDs, Group: o.opt.group, Filter: o.opt.filter}
		switch {
		case o.qos == 2 && o.state == outWaitAck:
			ref.State, ref.PID = store.RefSent, o.pid
		case o.state == outWaitComp:
			ref.State, ref.PID = store.RefReceived, o.pid
		}
		b.PutRef(s.id, &ref)
	}
	for _, o := range ss.inflight {
		put(o)
	}
	for _, o := range ss.queue {
		put(o)
	}
	for _, id := range ss.qos2in.ids() {
		b.PutQoS2(s.id, id)
	}
}
