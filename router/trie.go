package router

import "strings"

// node is one level of a shard's filter trie. The path from the shard root to a
// node spells the (inner, unprefixed) filter whose subscriptions it holds.
//
// Lock: every field is guarded by the owning shard's mu (read for Match and
// PickShared, write for Subscribe and Unsubscribe), except group.next which is
// atomic because Match advances it under the read lock.
type node struct {
	// children holds the literal next levels. A map because the fan-out under
	// one level is unbounded (one child per device id is common); Match looks
	// it up with m[string(b)], which Go compiles without allocating. Allocated
	// on the first literal child, so leaf nodes (most nodes) carry no map.
	children map[string]*node
	// plus and hash are the '+' and '#' children, kept out of the map so that
	// Match reaches them with a nil check instead of two hash lookups per
	// level.
	plus *node
	hash *node
	// subs are the non-shared subscriptions whose filter ends here.
	subs subList
	// groups are the shared groups whose inner filter ends here. A slice, not
	// a map: a filter rarely has more than a few groups and Match visits all
	// of them, and ranging over a map is much slower than over a slice.
	groups []*group
}

// empty reports whether n holds nothing and can be pruned from its parent.
func (n *node) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.hash == nil &&
		len(n.subs.s) == 0 && len(n.groups) == 0
}

// child returns the child for one filter level, creating it when create is
// set. Caller holds the shard's write lock when create is set, else at least
// the read lock.
func (n *node) child(level string, create bool) *node {
	switch level {
	case "+":
		if n.plus == nil && create {
			n.plus = &node{}
		}
		return n.plus
	case "#":
		if n.hash == nil && create {
			n.hash = &node{}
		}
		return n.hash
	}
	c := n.children[level]
	if c == nil && create {
		if n.children == nil {
			n.children = make(map[string]*node)
		}
		c = &node{}
		// Clone the key: level is a substring of some subscriber's filter
		// and the node may outlive that subscription.
		n.children[strings.Clone(level)] = c
	}
	return c
}

// removeChild unlinks the child reached by level.
func (n *node) removeChild(level string) {
	switch level {
	case "+":
		n.plus = nil
	case "#":
		n.hash = nil
	default:
		delete(n.children, level)
		if len(n.children) == 0 {
			n.children = nil // let the map go with its last child
		}
	}
}

// pathStep is one edge walked by find, kept so that Unsubscribe can prune the
// nodes it emptied, from the leaf up.
type pathStep struct {
	parent *node
	level  string
}

// find walks filter from root. When create is set it makes missing nodes and
// returns the leaf; otherwise it returns nil when the path does not exist. When
// path is non-nil the edges walked are appended to it.
func find(root *node, filter string, create bool, path *[]pathStep) *node {
	n := root
	for {
		i := strings.IndexByte(filter, '/')
		level := filter
		if i >= 0 {
			level = filter[:i]
		}
		c := n.child(level, create)
		if c == nil {
			return nil
		}
		if path != nil {
			*path = append(*path, pathStep{parent: n, level: level})
		}
		n = c
		if i < 0 {
			return n
		}
		filter = filter[i+1:]
	}
}

// prune unlinks, from the leaf up, every node on path that became empty.
func prune(path []pathStep) {
	for k := len(path) - 1; k >= 0; k-- {
		st := path[k]
		c := st.parent.child(st.level, false)
		if c == nil || !c.empty() {
			return
		}
		st.parent.removeChild(st.level)
	}
}

// subIndexMin is the list length from which a subList keeps a map from client
// to position. Below it a linear scan of a few cache lines beats hashing an
// interface; above it Subscribe and Unsubscribe on a hot filter (100k
// subscribers of "broadcast/#") stay O(1) instead of O(n).
const subIndexMin = 32

// subList holds the non-shared subscriptions of one filter: at most one per
// client, since (client, filter) is the subscription's key. Kept as a slice of
// values because Match ranges over it on every publish, and a contiguous slice
// is the fastest thing to range over; order is not preserved (swap-remove).
type subList struct {
	s   []Sub
	idx map[Subscriber]int32
}

// indexOf returns the position of c's subscription, or -1.
func (l *subList) indexOf(c Subscriber) int {
	if l.idx != nil {
		if i, ok := l.idx[c]; ok {
			return int(i)
		}
		return -1
	}
	for i := range l.s {
		if l.s[i].Client == c {
			return i
		}
	}
	return -1
}

// put adds sub or replaces the options of the client's existing subscription
// [MQTT-3.8.4-3]; it reports whether one existed.
func (l *subList) put(sub Sub) bool {
	if len(l.s) > 0 {
		// Every subscription in the list has the same filter: keep one copy
		// of the string instead of one per subscriber.
		sub.Filter = l.s[0].Filter
	}
	if i := l.indexOf(sub.Client); i >= 0 {
		l.s[i] = sub
		return true
	}
	l.s = append(l.s, sub)
	if l.idx != nil {
		l.idx[sub.Client] = int32(len(l.s) - 1)
	} else if len(l.s) >= subIndexMin {
		l.idx = make(map[Subscriber]int32, len(l.s)*2)
		for i := range l.s {
			l.idx[l.s[i].Client] = int32(i)
		}
	}
	return false
}

// remove deletes c's subscription and reports whether it existed.
func (l *subList) remove(c Subscriber) bool {
	i := l.indexOf(c)
	if i < 0 {
		return false
	}
	last := len(l.s) - 1
	if i != last {
		l.s[i] = l.s[last]
		if l.idx != nil {
			l.idx[l.s[i].Client] = int32(i)
		}
	}
	l.s[last] = Sub{} // drop the reference to the subscriber
	l.s = l.s[:last]
	if l.idx != nil {
		delete(l.idx, c)
		if len(l.s) < subIndexMin/2 {
			l.idx = nil // hysteresis: do not rebuild on every add/remove at the edge
		}
	}
	if len(l.s) == 0 {
		l.s = nil
	}
	return true
}
