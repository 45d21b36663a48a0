package server

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cp7/cp7/router"
)

// The session codec serializes a persistent session (subscriptions,
// in-flight and queued deliveries, inbound QoS 2 ids) so that it can move:
// to another node when its client reconnects there (server/cluster), and
// later to a durable store. Layout, all integers big-endian:
//
//	[0]     version (1)
//	u32     session expiry interval (seconds)
//	u16     subscriptions, then each:
//	          u16 filter length, filter, QoS, flags (bit 0 No Local,
//	          bit 1 Retain As Published, bits 2-3 Retain Handling), u32 id
//	u16     deliveries (in-flight first, in order, then queued), then each:
//	          state (0 queued, 1 waiting for PUBACK/PUBREC, 2 for PUBCOMP),
//	          QoS, u16 packet id, retain flag, u16 group length, group,
//	          u16 filter length, filter, u16 subscription ids, u32 each,
//	          u32 message length, the message as a bus message (busmsg.go)
//	u16     inbound QoS 2 packet ids, u16 each
const sessionCodecVersion = 1

var errSessionCodec = errors.New("server: malformed session state (from a node of another version?)")

// sessionSnapshot is a decoded session, not yet anyone's.
type sessionSnapshot struct {
	expiry uint32
	subs   []router.Sub // Client unset
	out    []*outbound
	qos2in []uint16
}

func appendStr16(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendSession encodes s. Owner only.
func appendSession(dst []byte, s *session, now time.Time) []byte {
	dst = append(dst, sessionCodecVersion)
	dst = binary.BigEndian.AppendUint32(dst, s.expiry)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s.subs)))
	for _, sub := range s.subs {
		dst = appendStr16(dst, sub.Filter)
		flags := sub.RetainHandling << 2
		if sub.NoLocal {
			flags |= 1
		}
		if sub.RetainAsPublished {
			flags |= 2
		}
		dst = append(dst, sub.QoS, flags)
		dst = binary.BigEndian.AppendUint32(dst, sub.ID)
	}
	var outs []*outbound
	var qos2 []uint16
	if st := s.st; st != nil {
		outs = append(append(outs, st.inflight...), st.queue...)
		qos2 = st.qos2in
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(outs)))
	for _, o := range outs {
		retain := byte(0)
		if o.opt.retain {
			retain = 1
		}
		dst = append(dst, o.state, o.qos)
		dst = binary.BigEndian.AppendUint16(dst, o.pid)
		dst = append(dst, retain)
		dst = appendStr16(dst, o.opt.group)
		dst = appendStr16(dst, o.opt.filter)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(o.opt.subIDs)))
		for _, id := range o.opt.subIDs {
			dst = binary.BigEndian.AppendUint32(dst, id)
		}
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = AppendBusMessage(dst, o.m, now)
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(qos2)))
	for _, id := range qos2 {
		dst = binary.BigEndian.AppendUint16(dst, id)
	}
	return dst
}

// sessionReader reads the codec's fields, remembering the first error.
type sessionReader struct {
	b   []byte
	bad bool
}

func (r *sessionReader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
func (r *sessionReader) u8() byte      { return r.take(1)[0] }
func (r *sessionReader) u16() uint16   { return binary.BigEndian.Uint16(r.take(2)) }
func (r *sessionReader) u32() uint32   { return binary.BigEndian.Uint32(r.take(4)) }
func (r *sessionReader) str() string   { return string(r.take(int(r.u16()))) }
func (r *sessionReader) bytes() []byte { return r.take(int(r.u32())) }

// decodeSession decodes what appendSession wrote. b must not change
// afterwards (messages point into it).
func decodeSession(b []byte, now time.Time) (*sessionSnapshot, error) {
	r := &sessionReader{b: b}
	if r.u8() != sessionCodecVersion {
		return nil, errSessionCodec
	}
	snap := &sessionSnapshot{expiry: r.u32()}
	for n := int(r.u16()); n > 0 && !r.bad; n-- {
		sub := router.Sub{Filter: r.str(), QoS: r.u8()}
		flags := r.u8()
		sub.NoLocal, sub.RetainAsPublished, sub.RetainHandling = flags&1 != 0, flags&2 != 0, flags>>2&3
		sub.ID = r.u32()
		if !router.ValidFilter([]byte(sub.Filter)) || sub.QoS > 2 {
			return nil, errSessionCodec
		}
		snap.subs = append(snap.subs, sub)
	}
	for n := int(r.u16()); n > 0 && !r.bad; n-- {
		o := &outbound{state: r.u8(), qos: r.u8(), pid: r.u16()}
		o.opt.retain = r.u8() != 0
		o.opt.group, o.opt.filter = r.str(), r.str()
		for k := int(r.u16()); k > 0 && !r.bad; k-- {
			o.opt.subIDs = append(o.opt.subIDs, r.u32())
		}
		o.opt.qos = o.qos
		m, err := decodeBusMessage(r.bytes(), now)
		if r.bad {
			break
		}
		if err != nil || o.state > outWaitComp || o.qos == 0 || o.qos > 2 {
			return nil, errSessionCodec
		}
		m.remote = false // it is this node's now
		o.m = m
		snap.out = append(snap.out, o)
	}
	for n := int(r.u16()); n > 0 && !r.bad; n-- {
		snap.qos2in = append(snap.qos2in, r.u16())
	}
	if r.bad || len(r.b) != 0 {
		return nil, errSessionCodec
	}
	return snap, nil
}

// install makes a fresh session (s, just created on l) hold snap: its
// subscriptions join the router (and the cluster's interest), in-flight
// deliveries keep their packet ids and states (resume re-sends them), queued
// ones wait as queued. Owner only.
func (l *loop) install(s *session, snap *sessionSnapshot) {
	s.expiry = snap.expiry
	for _, sub := range snap.subs {
		sub.Client = s
		if s.subs == nil {
			s.subs = make(map[string]router.Sub, len(snap.subs))
		}
		s.subs[sub.Filter] = sub
		l.srv.subscribeRouter(sub)
	}
	if len(snap.out) == 0 && len(snap.qos2in) == 0 {
		return
	}
	st := l.stateOf(s)
	for _, o := range snap.out {
		if o.state == outQueued {
			st.queue = append(st.queue, o)
			continue
		}
		st.inflight = append(st.inflight, o)
		if o.pid > st.nextID {
			st.nextID = o.pid
		}
	}
	st.qos2in = append(st.qos2in, snap.qos2in...)
}
