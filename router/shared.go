package router

import (
	"math/rand/v2"
	"sort"
	"sync/atomic"
)

// SharedStrategy chooses which member of a shared group receives a message.
// Whatever the strategy, members whose Connected() is true are preferred; a
// disconnected member is chosen only when no member is connected (its session
// then queues the message).
type SharedStrategy int

const (
	// SharedRoundRobin takes members in turn, with one atomic counter per
	// group, so a steady stream spreads evenly over connected members.
	SharedRoundRobin SharedStrategy = iota
	// SharedRandom takes a uniformly random member.
	SharedRandom
	// SharedHashClientID hashes the publisher's client id onto the members
	// sorted by client id, so one publisher's messages stick to one member
	// (ordering per publisher, as EMQX's hash_clientid). Messages without a
	// publisher session (wills) hash their topic.
	SharedHashClientID
	// SharedHashTopic hashes the message topic, so one topic sticks to one
	// member (ordering per topic). Neither hash depends on the order in
	// which members subscribed.
	SharedHashTopic
)

// group is one shared subscription: a group name and an inner filter, with the
// subscriptions of its members. It lives in the trie node of its inner filter.
type group struct {
	name   string // "$queue" for $queue/ subscriptions
	filter string // the inner filter, without the $share/{name}/ prefix
	// members are sorted by (ClientID, Filter), so that SharedHashClientID maps
	// a topic to the same member whatever the subscribe order. A client may
	// hold two memberships only through "$queue/f" and "$share/$queue/f",
	// which differ in Filter. A sorted slice because groups are small and Match
	// indexes into it; adds and removes are O(n) shifts under the write lock.
	members []Sub
	// next is the round-robin cursor. Atomic because Match advances it under
	// the shard's read lock, from many event loops at once.
	next atomic.Uint32
}

// memberIndex returns the position of the member (c, filter), or -1.
func (g *group) memberIndex(c Subscriber, filter string) int {
	id := c.ClientID()
	i := sort.Search(len(g.members), func(i int) bool { return g.members[i].Client.ClientID() >= id })
	for ; i < len(g.members) && g.members[i].Client.ClientID() == id; i++ {
		if g.members[i].Client == c && g.members[i].Filter == filter {
			return i
		}
	}
	return -1
}

// put adds sub or replaces its options [MQTT-3.8.4-3]; reports whether it existed.
func (g *group) put(sub Sub) bool {
	if i := g.memberIndex(sub.Client, sub.Filter); i >= 0 {
		g.members[i] = sub
		return true
	}
	id := sub.Client.ClientID()
	i := sort.Search(len(g.members), func(i int) bool {
		m := &g.members[i]
		mid := m.Client.ClientID()
		return mid > id || (mid == id && m.Filter >= sub.Filter)
	})
	g.members = append(g.members, Sub{})
	copy(g.members[i+1:], g.members[i:])
	g.members[i] = sub
	return false
}

// remove deletes the member (c, filter); reports whether it existed.
func (g *group) remove(c Subscriber, filter string) bool {
	i := g.memberIndex(c, filter)
	if i < 0 {
		return false
	}
	copy(g.members[i:], g.members[i+1:])
	g.members[len(g.members)-1] = Sub{}
	g.members = g.members[:len(g.members)-1]
	return true
}

// pick returns the index of the member that receives a message on topic.
// Called under the shard's read lock; the group has at least one member.
func (g *group) pick(strategy SharedStrategy, topic []byte, pubHash uint32, hasPub bool) int {
	n := len(g.members)
	if n == 1 {
		return 0
	}
	var start int
	switch strategy {
	case SharedRandom:
		start = rand.IntN(n)
	case SharedHashClientID:
		if hasPub {
			start = int(pubHash % uint32(n))
		} else {
			start = int(fnv32(topic) % uint32(n))
		}
	case SharedHashTopic:
		start = int(fnv32(topic) % uint32(n))
	default:
		start = int((g.next.Add(1) - 1) % uint32(n))
	}
	// Prefer a connected member: scan forward from the strategy's choice.
	for k, j := 0, start; k < n; k++ {
		if g.members[j].Client.Connected() {
			return j
		}
		if j++; j == n {
			j = 0
		}
	}
	return start
}

// pickOther returns a member other than exclude, preferring connected ones, or
// -1. Used for redelivery, so it always takes turns (whatever the strategy):
// the hash strategy's member is the one that left.
func (g *group) pickOther(exclude Subscriber) int {
	n := len(g.members)
	if n == 0 {
		return -1
	}
	start := int((g.next.Add(1) - 1) % uint32(n))
	fallback := -1
	for k, j := 0, start; k < n; k++ {
		if m := g.members[j].Client; m != exclude {
			if m.Connected() {
				return j
			}
			if fallback < 0 {
				fallback = j
			}
		}
		if j++; j == n {
			j = 0
		}
	}
	return fallback
}

// findGroup returns the group called name at n, or nil.
func (n *node) findGroup(name string) *group {
	for _, g := range n.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

// removeGroup unlinks g from n.
func (n *node) removeGroup(g *group) {
	for i, x := range n.groups {
		if x == g {
			last := len(n.groups) - 1
			n.groups[i] = n.groups[last]
			n.groups[last] = nil
			n.groups = n.groups[:last]
			if last == 0 {
				n.groups = nil
			}
			return
		}
	}
}

// PickShared chooses a member of the shared subscription group/filter other
// than exclude, for redelivering the unacknowledged messages of a member that
// left. filter is the inner filter as reported in Delivery.Filter; the full
// "$share/{group}/{filter}" or "$queue/{filter}" form is accepted too. Members
// whose Connected() is true are preferred. ok is false when the group has no
// other member. The Delivery's SubIDs is freshly allocated (this is not a hot
// path) and owned by the caller.
func (t *Table) PickShared(group, filter string, exclude Subscriber) (d Delivery, ok bool) {
	if g, inner, shared := parseSharedString(filter); shared && (group == "" || group == g) {
		group, filter = g, inner
	}
	s := t.shardFor(filter)
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := find(&s.root, filter, false, nil)
	if n == nil {
		return Delivery{}, false
	}
	g := n.findGroup(group)
	if g == nil {
		return Delivery{}, false
	}
	j := g.pickOther(exclude)
	if j < 0 {
		return Delivery{}, false
	}
	m := &g.members[j]
	d = Delivery{
		Client:            m.Client,
		QoS:               m.QoS,
		RetainAsPublished: m.RetainAsPublished,
		Shared:            true,
		Group:             g.name,
		Filter:            g.filter,
	}
	if m.ID != 0 {
		d.SubIDs = []uint32{m.ID}
	}
	return d, true
}

// fnv32 is 32-bit FNV-1a, used to place filters in shards and by the hash
// strategy. Generic so that the string (Subscribe) and []byte (Match) forms
// hash identically without conversion.
func fnv32[T ~string | ~[]byte](s T) uint32 {
	const (
		offset = 2166136261
		prime  = 16777619
	)
	h := uint32(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= prime
	}
	return h
}
