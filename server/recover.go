package server

import (
	"runtime"
	"runtime/debug"
	"time"

	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server/store"
)

// recoverStore rebuilds the retained tree, the session registry, the
// subscription table and every persistent session's queued and in-flight
// messages from the store. It runs in Start before anything is served; the
// recovered sessions are offline, owned by the parking loop until their
// clients return. Sessions whose expiry passed while the broker was down
// stay expired: they are dropped here.
func (srv *Server) recoverStore() error {
	st := srv.cfg.Store
	p := srv.parking
	now := time.Now()
	// Recovery allocates a lot that stays: a low GC target (cp7 runs with
	// 25%) would collect over and over for nothing.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sessions := make(map[string]*session)
	messages := make(map[uint64]*Message)
	var expired []string
	del := st.NewBatch()
	v := store.Visitor{
		Retained: func(sm *store.Msg) {
			m := fromStoreMsg(sm)
			m.Retain = true
			if m.expired(now) {
				del.DeleteRetained(sm.Topic)
				return
			}
			srv.retained.Set(string(m.Topic), m)
		},
		Session: func(rec *store.Session) {
			expireAt := rec.ExpireAt
			if expireAt == 0 && rec.Expiry != 0xFFFFFFFF {
				// Connected when the broker stopped: the session went
				// offline then; count its expiry from now.
				expireAt = now.Unix() + int64(rec.Expiry) + 1
			}
			if expireAt != 0 && now.Unix() >= expireAt {
				expired = append(expired, rec.ID)
				del.DeleteSession(rec.ID)
				return
			}
			s, _ := srv.sessions.getOrCreate(rec.ID, p)
			s.expiry = rec.Expiry
			s.setFlag(flagDurable, true)
			for _, sub := range rec.Subs {
				rs := router.Sub{Client: s, Filter: sub.Filter, QoS: sub.QoS, NoLocal: sub.NoLocal,
					RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling, ID: sub.ID}
				srv.router.Subscribe(rs)
				if s.subs == nil {
					s.subs = make(map[string]router.Sub, len(rec.Subs))
				}
				s.subs[rs.Filter] = rs
			}
			sst := p.stateOf(s)
			sst.expireAt = expireAt
			if rec.Will != nil {
				sst.pendingWill = &will{m: fromStoreMsg(rec.Will)}
				sst.willAt = rec.WillAt
			}
			sessions[rec.ID] = s
		},
		Message: func(id uint64, sm *store.Msg) {
			m := fromStoreMsg(sm)
			m.sid = id
			messages[id] = m
		},
		Ref: func(id string, r *store.Ref) {
			s, m := sessions[id], messages[r.Msg]
			if s == nil || m == nil {
				return // an expired session's: deleted with it
			}
			m.srefs++
			o := &outbound{m: m, qos: r.QoS, pid: r.PID,
				opt: deliverOpts{qos: r.QoS, retain: r.Retain, subIDs: r.SubIDs, group: r.Group, filter: r.Filter, ref: r.Seq}}
			sst := p.stateOf(s)
			switch {
			case r.State == store.RefSent && r.QoS == 2:
				o.state = outWaitAck
				sst.inflight = append(sst.inflight, o)
				p.ctr.inflight.Add(1)
			case r.State == store.RefReceived:
				o.state = outWaitComp
				sst.inflight = append(sst.inflight, o)
				p.ctr.inflight.Add(1)
			default:
				o.pid = 0
				sst.queue = append(sst.queue, o)
				p.ctr.queued.Add(1)
			}
		},
		QoS2: func(id string, pid uint16) {
			if s := sessions[id]; s != nil {
				sst := p.stateOf(s)
				sst.qos2in.add(pid)
			}
		},
	}
	stats, err := st.Load(v)
	if err != nil {
		return err
	}
	for id, m := range messages {
		if m.srefs == 0 { // only expired sessions referenced it
			del.DeleteMsg(id)
		}
	}
	for _, s := range sessions {
		if sst := s.st; sst != nil {
			for _, o := range sst.inflight {
				if o.pid >= sst.nextID {
					sst.nextID = o.pid
				}
			}
		}
		p.scheduleOffline(s)
	}
	st.Submit(del, func(error) {})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	srv.log.Info("store: recovered", "dir", st.Dir(), "took", time.Since(now).Round(time.Millisecond).String(),
		"retained", stats.Retained, "sessions", len(sessions), "expired_sessions", len(expired),
		"messages", stats.Messages, "queued_or_inflight", stats.Refs, "qos2_ids", stats.QoS2,
		"dropped_records", stats.Dropped, "heap_bytes", after.HeapAlloc, "heap_growth_bytes", int64(after.HeapAlloc)-int64(before.HeapAlloc))
	return nil
}
