package server

import (
	"sync"
	"sync/atomic"

	"github.com/cp7/cp7/router"
)

// session is the MQTT session state of one client id: subscriptions, the
// outbound in-flight window and queue, and inbound QoS 2 packet ids. It
// outlives connections when the client asked for a persistent session.
//
// Ownership: the loop in owner, and only it, touches the fields below
// "owner only". A session moves between loops only on a take-over: the old
// owner stores the new owner and posts the attach to it, so the atomic store
// orders every earlier write before the new owner's reads.
type session struct {
	id        string
	owner     atomic.Pointer[loop]
	connected atomic.Bool

	// owner only
	removed bool   // dropped from the registry; late tasks ignore it
	onWheel bool   // on the owner's timing wheel
	expiry  uint32 // session expiry interval in seconds; 0: ends with the connection
	c       *client
	subs    map[string]router.Sub
	st      *sessionState // nil while there is nothing in flight, queued or pending
}

// sessionState is the part of a session that idle sessions do not need: it
// is allocated on the first QoS 1/2 message or offline deadline and dropped
// when empty again, so a million idle sessions stay small. Owner only.
type sessionState struct {
	inflight []*outbound // ordered by send time
	queue    []*outbound // waiting for the window, or for the client to return
	qos2in   []uint16    // inbound QoS 2 ids between PUBREC and PUBREL [MQTT-4.3.3]
	unsent   int         // in-flight entries waiting to be re-sent after a resume
	nextID   uint16
	expireAt int64 // Unix seconds when an offline session expires; 0 = never
	// delayed will of the last connection (v5 Will Delay Interval)
	pendingWill *will
	willAt      int64
}

// state returns the session's state, allocating it on first use.
func (s *session) state() *sessionState {
	if s.st == nil {
		s.st = &sessionState{}
	}
	return s.st
}

// trim drops the state once it holds nothing (packet ids restart, which is
// fine with nothing in flight).
func (s *session) trim() {
	st := s.st
	if st != nil && len(st.inflight) == 0 && len(st.queue) == 0 && len(st.qos2in) == 0 &&
		st.expireAt == 0 && st.pendingWill == nil {
		s.st = nil
	}
}

// ClientID implements router.Subscriber.
func (s *session) ClientID() string { return s.id }

// Connected implements router.Subscriber; safe from any goroutine.
func (s *session) Connected() bool { return s.connected.Load() }

// outbound is a QoS 1/2 delivery in flight or queued for one session.
type outbound struct {
	m      *Message
	opt    deliverOpts
	pid    uint16
	qos    byte
	state  uint8 // outWaitAck (PUBACK/PUBREC) or outWaitComp (PUBCOMP)
	unsent bool  // resumed but not re-sent yet: the window was smaller
	sentAt int64
}

const (
	outQueued uint8 = iota
	outWaitAck
	outWaitComp
)

// registry maps client ids to sessions. It is touched on CONNECT and session
// end only, never per message, so one mutex per shard is enough.
type registry struct {
	shards [64]struct {
		mu sync.Mutex
		m  map[string]*session
	}
	count atomic.Int64
}

func (r *registry) shard(id string) *struct {
	mu sync.Mutex
	m  map[string]*session
} {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return &r.shards[h%uint32(len(r.shards))]
}

// getOrCreate returns the session for id, creating it owned by l if absent.
func (r *registry) getOrCreate(id string, l *loop) (s *session, created bool) {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[string]*session)
	}
	if s = sh.m[id]; s != nil {
		return s, false
	}
	s = &session{id: id}
	s.owner.Store(l)
	sh.m[id] = s
	r.count.Add(1)
	return s, true
}

// remove deletes s if it is still the session registered for its id.
func (r *registry) remove(s *session) {
	sh := r.shard(s.id)
	sh.mu.Lock()
	if sh.m[s.id] == s {
		delete(sh.m, s.id)
		r.count.Add(-1)
	}
	sh.mu.Unlock()
}

// get returns the session for id, if any (tests and admin views).
func (r *registry) get(id string) *session {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.m[id]
}

// drop ends a session for good: its subscriptions leave the router and its
// queues are released. Owner only.
func (l *loop) dropSession(s *session) {
	if s.removed {
		return
	}
	s.removed = true
	l.srv.sessions.remove(s)
	l.clearSession(s)
}

// clearSession forgets subscriptions, in-flight and queued messages (clean
// start). Unacknowledged shared-subscription messages go to another member of
// their group. Owner only.
func (l *loop) clearSession(s *session) {
	if len(s.subs) > 0 {
		filters := make([]string, 0, len(s.subs))
		for f := range s.subs {
			filters = append(filters, f)
		}
		l.srv.router.UnsubscribeAll(s, filters)
		s.subs = nil
	}
	l.redistributeShared(s)
	s.st = nil
}

// expire implements timed for offline sessions: a delayed will and the
// session expiry interval.
func (s *session) expire(l *loop, now int64) int64 {
	if s.owner.Load() != l {
		return 0 // moved to another loop, which keeps its own entry
	}
	st := s.st
	if s.removed || s.c != nil || st == nil {
		s.onWheel = false
		return 0
	}
	if st.pendingWill != nil && now >= st.willAt {
		w := st.pendingWill
		st.pendingWill = nil
		l.publishWill(w)
	}
	if st.expireAt != 0 && now >= st.expireAt {
		if st.pendingWill != nil { // [MQTT-3.1.3-9] the will goes out when the session ends
			w := st.pendingWill
			st.pendingWill = nil
			l.publishWill(w)
		}
		l.dropSession(s)
		l.srv.stats.sessionsExpired.Add(1)
		s.onWheel = false
		return 0
	}
	next := st.expireAt
	if st.pendingWill != nil && (next == 0 || st.willAt < next) {
		next = st.willAt
	}
	if next == 0 {
		s.onWheel = false
	}
	return next
}

// scheduleOffline puts an offline session on its owner's wheel when it has a
// deadline. Owner only.
func (l *loop) scheduleOffline(s *session) {
	st := s.st
	if st == nil {
		return
	}
	next := st.expireAt
	if st.pendingWill != nil && (next == 0 || st.willAt < next) {
		next = st.willAt
	}
	if next != 0 && !s.onWheel {
		s.onWheel = true
		l.wheel.add(s, next)
	}
}
