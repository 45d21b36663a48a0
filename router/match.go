package router

// Delivery is one message copy for one receiving client, produced by Match.
type Delivery struct {
	Client            Subscriber
	QoS               byte // granted QoS (the maximum over the client's matching subscriptions)
	RetainAsPublished bool // OR over the client's matching subscriptions
	// SubIDs are the non-zero subscription identifiers of the matching
	// subscriptions (MQTT 5), nil when none. It shares the Result's one
	// backing array: valid until the Result is reused; copy to keep. Its
	// capacity is its length, so appending to it copies.
	SubIDs []uint32
	// Shared is set for a shared-subscription delivery; Group is the group
	// name ("$queue" for $queue/) and Filter the inner filter, without the
	// prefix. Pass both to PickShared to redeliver elsewhere.
	Shared bool
	Group  string
	Filter string
}

// Result receives the deliveries of one Match. Reuse one Result per event loop:
// its slices keep their capacity, so Match does not allocate once they have
// grown to the loop's largest fan-out. A Result is not safe for concurrent use.
type Result struct {
	Deliveries []Delivery

	hits  []hit    // matching non-shared subscriptions, before merging by client
	picks []hit    // chosen shared members, one per matching group
	cnt   []int32  // per delivery: how many SubIDs it gets
	ids   []uint32 // backing array of every Delivery's SubIDs
	// index maps client to delivery for large fan-outs. A linear scan of
	// Deliveries is faster below linearDedupMax; above it the scan would be
	// quadratic. Allocated once, then cleared and reused.
	index     map[Subscriber]int32
	indexUsed bool
	// segs holds, for each filter node that contributed hits, the end of its
	// run in hits. A node holds at most one subscription per client, so a hit
	// only needs comparing with the deliveries made by earlier nodes: with one
	// node (a broadcast to one filter's 100k subscribers) finish does no
	// look-up at all, and small fan-outs scan less.
	segs []int32
}

// linearDedupMax is the delivery count up to which merging by client scans
// Deliveries instead of using the map.
const linearDedupMax = 16

// hit is one matching subscription, copied out while the shard is locked (the
// shard's slices may change as soon as it is unlocked).
type hit struct {
	client Subscriber
	id     uint32
	qos    byte
	rap    bool
	d      int32  // delivery index, set when merging
	group  string // shared picks only
	filter string // shared picks only
}

// Reset empties r for reuse, keeping capacity and dropping references to
// subscribers.
func (r *Result) Reset() {
	clear(r.Deliveries)
	r.Deliveries = r.Deliveries[:0]
	clear(r.hits)
	r.hits = r.hits[:0]
	clear(r.picks)
	r.picks = r.picks[:0]
	r.cnt = r.cnt[:0]
	r.ids = r.ids[:0]
	r.segs = r.segs[:0]
	if r.indexUsed {
		clear(r.index)
		r.indexUsed = false
	}
}

// matcher carries one Match's state down the trie walk. It lives on Match's
// stack.
type matcher struct {
	topic     []byte
	ends      []uint16
	publisher Subscriber
	strategy  SharedStrategy
	// pubHash hashes the publisher's client id for SharedHashClientID,
	// computed once here so the shared pick does not touch the interface
	// (which would move the level buffer to the heap).
	pubHash uint32
	hasPub  bool
	r       *Result
}

// Match fills r (after resetting it) with one Delivery per receiving client for
// a message published on topic by publisher (nil when the publisher is not a
// subscriber, such as a will or $SYS message).
//
// Non-shared subscriptions of one client that match are merged into one
// Delivery with the maximum granted QoS, all non-zero subscription identifiers
// and RetainAsPublished OR-ed; a subscription with NoLocal set is skipped when
// its client is the publisher [MQTT-3.8.3-3]. For every shared group with at
// least one matching member exactly one member gets a Delivery (Shared set),
// chosen by the table's strategy and preferring connected members; NoLocal does
// not apply to shared subscriptions. A client chosen for a group that also has
// non-shared matches gets both Deliveries. Non-shared deliveries come first.
//
// Topics beginning with '$' are not matched by filters whose first level is a
// wildcard [MQTT-4.7.2-1]. topic must be a valid topic name.
//
// Match allocates nothing once r has grown to the fan-out (and the topic has at
// most 64 levels).
func (t *Table) Match(topic []byte, publisher Subscriber, r *Result) {
	r.Reset()
	if len(topic) == 0 || len(topic) > maxTopicLen {
		return // not a topic name; level offsets are uint16
	}
	var endsBuf [stackLevels]uint16
	m := matcher{
		topic:     topic,
		ends:      splitLevels(topic, endsBuf[:0]),
		publisher: publisher,
		strategy:  t.strategy,
		r:         r,
	}
	if t.strategy == SharedHashClientID && publisher != nil {
		m.pubHash, m.hasPub = fnv32(publisher.ClientID()), true
	}
	first := levelAt(topic, m.ends, 0)
	s := &t.shards[fnv32(first)%uint32(len(t.shards))]
	s.mu.RLock()
	if c := s.root.children[string(first)]; c != nil {
		m.walk(c, 1)
	}
	s.mu.RUnlock()
	// [MQTT-4.7.2-1] a '$' topic is not matched by a filter starting with a
	// wildcard, and those filters are exactly the wildcard shard's.
	if topic[0] != '$' {
		w := &t.wild
		w.mu.RLock()
		m.walk(&w.root, 0)
		w.mu.RUnlock()
	}
	r.finish()
}

// walk visits n, which has consumed the topic's levels [0, i), and collects the
// subscriptions of every filter node below it that matches the rest.
func (m *matcher) walk(n *node, i int) {
	if n.hash != nil {
		// '#' matches the parent level and any number of levels below, so
		// "a/#" matches "a" [MQTT-4.7.1-2].
		m.collect(n.hash)
	}
	if i == len(m.ends) {
		m.collect(n)
		return
	}
	if n.plus != nil {
		m.walk(n.plus, i+1)
	}
	if n.children != nil {
		if c := n.children[string(levelAt(m.topic, m.ends, i))]; c != nil {
			m.walk(c, i+1)
		}
	}
}

// collect copies out the subscriptions of a matching filter node. Each filter
// node is reached at most once per Match, so each shared group is picked from
// at most once.
func (m *matcher) collect(n *node) {
	r := m.r
	before := len(r.hits)
	for k := range n.subs.s {
		s := &n.subs.s[k]
		if s.NoLocal && m.publisher != nil && s.Client == m.publisher {
			continue // [MQTT-3.8.3-3]
		}
		r.hits = append(r.hits, hit{client: s.Client, id: s.ID, qos: s.QoS, rap: s.RetainAsPublished})
	}
	if len(r.hits) > before {
		r.segs = append(r.segs, int32(len(r.hits)))
	}
	for _, g := range n.groups {
		if len(g.members) == 0 {
			continue
		}
		s := &g.members[g.pick(m.strategy, m.topic, m.pubHash, m.hasPub)]
		r.picks = append(r.picks, hit{client: s.Client, id: s.ID, qos: s.QoS, rap: s.RetainAsPublished,
			group: g.name, filter: g.filter})
	}
}

// finish merges hits by client into Deliveries, then appends the shared picks,
// laying every SubIDs out contiguously in r.ids.
func (r *Result) finish() {
	total := 0
	seg, limit := 0, 0 // limit: deliveries made by the nodes before this hit's
	for k := range r.hits {
		if k == int(r.segs[seg]) {
			seg++
			limit = len(r.Deliveries)
		}
		h := &r.hits[k]
		d := r.lookup(h.client, limit)
		if d < 0 {
			d = len(r.Deliveries)
			r.Deliveries = append(r.Deliveries, Delivery{Client: h.client, QoS: h.qos, RetainAsPublished: h.rap})
			r.cnt = append(r.cnt, 0)
			if r.indexUsed {
				r.index[h.client] = int32(d)
			}
		} else {
			dl := &r.Deliveries[d]
			dl.QoS = max(dl.QoS, h.qos)
			dl.RetainAsPublished = dl.RetainAsPublished || h.rap
		}
		h.d = int32(d)
		if h.id != 0 {
			r.cnt[d]++
			total++
		}
	}
	for k := range r.picks {
		if r.picks[k].id != 0 {
			total++
		}
	}
	if total == 0 {
		r.appendPicks(0)
		return
	}
	if cap(r.ids) < total {
		r.ids = make([]uint32, total, total+total/4)
	}
	r.ids = r.ids[:total]
	off := 0
	for d, c := range r.cnt {
		if c > 0 {
			r.Deliveries[d].SubIDs = r.ids[off : off : off+int(c)]
			off += int(c)
		}
	}
	for k := range r.hits {
		if h := &r.hits[k]; h.id != 0 {
			dl := &r.Deliveries[h.d]
			dl.SubIDs = append(dl.SubIDs, h.id) // within capacity: writes into r.ids
		}
	}
	r.appendPicks(off)
}

// appendPicks appends one Delivery per shared pick; off is the next free slot
// of r.ids.
func (r *Result) appendPicks(off int) {
	for k := range r.picks {
		p := &r.picks[k]
		d := Delivery{Client: p.client, QoS: p.qos, RetainAsPublished: p.rap, Shared: true, Group: p.group, Filter: p.filter}
		if p.id != 0 {
			r.ids[off] = p.id
			d.SubIDs = r.ids[off : off+1 : off+1]
			off++
		}
		r.Deliveries = append(r.Deliveries, d)
	}
}

// lookup returns the index of client c's delivery among the first limit, or
// -1. It scans them while they are few, and switches to the map (which then
// holds every delivery made so far, and is kept up to date by finish) once
// limit reaches linearDedupMax.
func (r *Result) lookup(c Subscriber, limit int) int {
	if limit == 0 {
		return -1
	}
	if !r.indexUsed {
		if limit < linearDedupMax {
			for i := range r.Deliveries[:limit] {
				if r.Deliveries[i].Client == c {
					return i
				}
			}
			return -1
		}
		if r.index == nil {
			r.index = make(map[Subscriber]int32, 2*linearDedupMax)
		}
		for i := range r.Deliveries {
			r.index[r.Deliveries[i].Client] = int32(i)
		}
		r.indexUsed = true
	}
	if d, ok := r.index[c]; ok {
		return int(d)
	}
	return -1
}
