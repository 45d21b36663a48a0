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
	id    string
	owner atomic.Pointer[loop]
	// flags: flagConnected, and flagDurable while the store holds the
	// session's record (messages routed to it from any loop are then
	// stored with a reference). One word keeps session in its size class.
	flags atomic.Uint32

	// owner only
	removed bool   // dropped from the registry; late tasks ignore it
	onWheel bool   // on the owner's timing wheel
	expiry  uint32 // session expiry interval in seconds; 0: ends with the connection
	since   uint32 // Unix seconds of the last CONNACK (admin API; fills padding)
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
	qos2in   idSet       // inbound QoS 2 ids between PUBREC and PUBREL [MQTT-4.3.3]
	// queuedBytes is the topic and payload bytes in queue (MaxQueuedBytes)
	queuedBytes int
	unsent      int // in-flight entries waiting to be re-sent after a resume
	nextID      uint16
	expireAt    int64 // Unix seconds when an offline session expires; 0 = never
	// delayed will of the last connection (v5 Will Delay Interval)
	pendingWill *will
	willAt      int64
}

// nextDeadline is the sooner of the expiry and a pending will, in Unix
// seconds; 0 when there is neither.
func (st *sessionState) nextDeadline() int64 {
	next := st.expireAt
	if st.pendingWill != nil && (next == 0 || st.willAt < next) {
		next = st.willAt
	}
	return next
}

// stateOf returns s's state, taking one of l's spares (or allocating) on
// first use. Owner only.
func (l *loop) stateOf(s *session) *sessionState {
	if s.st == nil {
		if n := len(l.spareStates); n > 0 {
			s.st = l.spareStates[n-1]
			l.spareStates[n-1] = nil
			l.spareStates = l.spareStates[:n-1]
		} else {
			s.st = &sessionState{}
		}
	}
	return s.st
}

// trim drops s's state once it holds nothing (packet ids restart, which is
// fine with nothing in flight), so an idle session costs no state; the state
// becomes a spare of l, so a session that gets one QoS 1 message after
// another does not allocate a state for each. Owner only.
func (l *loop) trim(s *session) {
	st := s.st
	if st == nil || len(st.inflight) != 0 || len(st.queue) != 0 || st.qos2in.len() != 0 ||
		st.expireAt != 0 || st.pendingWill != nil {
		return
	}
	s.st = nil
	if len(l.spareStates) >= l.maxSpares() {
		return
	}
	// Keep small backing arrays: they are what the next session appends to.
	*st = sessionState{inflight: keepSmall(st.inflight), queue: keepSmall(st.queue), qos2in: st.qos2in.reset()}
	l.spareStates = append(l.spareStates, st)
}

// spareSliceCap bounds the backing arrays a spare state keeps.
const spareSliceCap = 16

func keepSmall(list []*outbound) []*outbound {
	if cap(list) > spareSliceCap {
		return nil
	}
	clear(list[:cap(list)])
	return list[:0]
}

const (
	flagConnected uint32 = 1 << iota
	flagDurable
)

// setFlag sets or clears f; safe from any goroutine.
func (s *session) setFlag(f uint32, on bool) {
	for {
		old := s.flags.Load()
		v := old &^ f
		if on {
			v |= f
		}
		if s.flags.CompareAndSwap(old, v) {
			return
		}
	}
}

// isDurable reports whether the store holds s's record; any goroutine.
func (s *session) isDurable() bool { return s.flags.Load()&flagDurable != 0 }

// ClientID implements router.Subscriber.
func (s *session) ClientID() string { return s.id }

// Connected implements router.Subscriber; safe from any goroutine.
func (s *session) Connected() bool { return s.flags.Load()&flagConnected != 0 }

// outbound is a QoS 1/2 delivery in flight or queued for one session.
type outbound struct { // see loop.newOutbound and loop.freeOutbound
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
// end only, never per message, so one mutex per shard is enough. Each shard is
// an open-addressing table of session pointers keyed by the session's own id:
// 8 bytes a slot at most 7/8 full, where a Go map[string]*session costs about
// 40 bytes an entry, which counts at a million sessions.
type registry struct {
	shards [64]regShard
	count  atomic.Int64
}

type regShard struct {
	mu    sync.Mutex
	slots []*session // linear probing; nil is empty
	n     int
}

func idHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

func (r *registry) shard(h uint64) *regShard { return &r.shards[h%uint64(len(r.shards))] }

// find returns the slot holding id, or the empty slot where it would go.
// The caller holds sh.mu and sh.slots is not empty.
func (sh *regShard) find(id string, h uint64) int {
	mask := uint64(len(sh.slots) - 1)
	for i := (h >> 6) & mask; ; i = (i + 1) & mask {
		if s := sh.slots[i]; s == nil || s.id == id {
			return int(i)
		}
	}
}

func (sh *regShard) grow() {
	old := sh.slots
	n := 2 * len(old)
	if n == 0 {
		n = 16
	}
	sh.slots = make([]*session, n)
	for _, s := range old {
		if s != nil {
			sh.slots[sh.find(s.id, idHash(s.id))] = s
		}
	}
}

// getOrCreate returns the session for id, creating it owned by l if absent.
func (r *registry) getOrCreate(id string, l *loop) (s *session, created bool) {
	h := idHash(id)
	sh := r.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if (sh.n+1)*8 > len(sh.slots)*7 {
		sh.grow()
	}
	i := sh.find(id, h)
	if s = sh.slots[i]; s != nil {
		return s, false
	}
	s = &session{id: id}
	s.owner.Store(l)
	sh.slots[i] = s
	sh.n++
	r.count.Add(1)
	return s, true
}

// remove deletes s if it is still the session registered for its id, moving
// later entries of its probe run back (no tombstones).
func (r *registry) remove(s *session) {
	h := idHash(s.id)
	sh := r.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.slots) == 0 {
		return
	}
	i := sh.find(s.id, h)
	if sh.slots[i] != s {
		return
	}
	mask := len(sh.slots) - 1
	sh.slots[i] = nil
	for j := (i + 1) & mask; sh.slots[j] != nil; j = (j + 1) & mask {
		e := sh.slots[j]
		sh.slots[j] = nil
		sh.slots[sh.find(e.id, idHash(e.id))] = e
	}
	sh.n--
	r.count.Add(-1)
	if len(sh.slots) > 64 && sh.n*8 < len(sh.slots) {
		sh.shrink()
	}
}

// shrink halves a table that became mostly empty (after a mass disconnect).
func (sh *regShard) shrink() {
	old := sh.slots
	sh.slots = make([]*session, len(old)/2)
	for _, s := range old {
		if s != nil {
			sh.slots[sh.find(s.id, idHash(s.id))] = s
		}
	}
}

// get returns the session for id, if any (tests and admin views).
func (r *registry) get(id string) *session {
	h := idHash(id)
	sh := r.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.slots) == 0 {
		return nil
	}
	return sh.slots[sh.find(id, h)]
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
		for _, f := range filters {
			l.srv.unsubscribeRouter(s, f)
		}
		s.subs = nil
	}
	l.redistributeShared(s)
	if st := s.st; st != nil {
		l.ctr.inflight.Add(-int64(len(st.inflight)))
		l.ctr.queued.Add(-int64(len(st.queue)))
	}
	l.unrefAll(s)
	l.forgetSession(s)
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
		if st.expireAt == 0 || now < st.expireAt {
			l.saveSession(s) // the will is gone from the record too
		}
	}
	if st.expireAt != 0 && now >= st.expireAt {
		if st.pendingWill != nil { // [MQTT-3.1.3-9] the will goes out when the session ends
			w := st.pendingWill
			st.pendingWill = nil
			l.publishWill(w)
		}
		l.dropSession(s)
		l.event(evSessionExpired)
		s.onWheel = false
		return 0
	}
	next := st.nextDeadline()
	if next == 0 {
		s.onWheel = false
	}
	return next
}

// scheduleOffline puts an offline session on its owner's wheel when it has a
// deadline. Owner only.
func (l *loop) scheduleOffline(s *session) {
	if s.st == nil {
		return
	}
	next := s.st.nextDeadline()
	if next != 0 && !s.onWheel {
		s.onWheel = true
		l.wheel.addSession(s, next)
	}
}
