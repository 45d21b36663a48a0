package router

import (
	"strings"
	"sync"
)

// RetainTree holds the retained message of each topic, generic in the stored
// message type M. It is safe for concurrent use.
//
// A trie by topic level behind one RWMutex: wildcard look-ups (a SUBSCRIBE to
// "a/+/c" must find every retained topic that matches) cost the depth of the
// filter and the size of the matching subtrees, not the number of retained
// topics. Reads (subscribes) take the read lock; Set and Delete (retained
// publishes) take the write lock, which a retained-heavy workload may want
// sharded later the way Table is.
type RetainTree[M any] struct {
	mu    sync.RWMutex
	root  rnode[M]
	count int
}

// rnode is one topic level. Guarded by the tree's mu.
type rnode[M any] struct {
	// children by level. A map because the fan-out under a level is unbounded;
	// nil until the first child.
	children map[string]*rnode[M]
	topic    string // the full topic, set while has is true
	msg      M
	has      bool
}

// NewRetainTree returns an empty tree.
func NewRetainTree[M any]() *RetainTree[M] {
	return &RetainTree[M]{}
}

// Set stores m as the retained message of topic, replacing any previous one.
// topic must be a valid topic name.
func (r *RetainTree[M]) Set(topic string, m M) { r.Replace(topic, m) }

// Replace is Set, returning the message it replaced, if any.
func (r *RetainTree[M]) Replace(topic string, m M) (old M, had bool) {
	r.mu.Lock()
	n := r.walk(topic, true, nil)
	if !n.has {
		r.count++
		n.has = true
		n.topic = topic
	} else {
		old, had = n.msg, true
	}
	n.msg = m
	r.mu.Unlock()
	return old, had
}

// rstep is one edge walked: the node reached and the level that names it
// in its parent, so a prune needs no second walk of the topic.
type rstep[M any] struct {
	n     *rnode[M]
	level string
}

// walk returns the node of topic, or nil if it is not in the tree. With
// create it adds the missing levels instead. With path it appends every
// edge from the root down to the topic's node. Caller holds mu (write lock
// for create). Linear in the topic's length.
func (r *RetainTree[M]) walk(topic string, create bool, path *[]rstep[M]) *rnode[M] {
	n := &r.root
	rest := topic
	for {
		i := strings.IndexByte(rest, '/')
		level := rest
		if i >= 0 {
			level = rest[:i]
		}
		c := n.children[level]
		if c == nil {
			if !create {
				return nil
			}
			if n.children == nil {
				n.children = make(map[string]*rnode[M])
			}
			c = &rnode[M]{}
			n.children[strings.Clone(level)] = c
		}
		n = c
		if path != nil {
			*path = append(*path, rstep[M]{n, level})
		}
		if i < 0 {
			return n
		}
		rest = rest[i+1:]
	}
}

// Delete removes the retained message of topic and reports whether there was
// one. Levels left empty are pruned.
func (r *RetainTree[M]) Delete(topic string) bool {
	_, ok := r.Remove(topic)
	return ok
}

// Remove is Delete, returning the message removed. It is linear in the
// topic's length: the prune walks back up the recorded path (a delete of a
// 32,000-level topic once walked the topic from its start for every level,
// seconds under the write lock).
func (r *RetainTree[M]) Remove(topic string) (old M, ok bool) {
	var pathBuf [16]rstep[M]
	path := append(pathBuf[:0], rstep[M]{&r.root, ""})
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.walk(topic, false, &path)
	if n == nil || !n.has {
		return old, false
	}
	var zero M
	old = n.msg
	n.msg, n.has, n.topic = zero, false, ""
	r.count--
	// Prune from the leaf up.
	for k := len(path) - 1; k > 0; k-- {
		c := path[k]
		if c.n.has || len(c.n.children) > 0 {
			break
		}
		parent := path[k-1].n
		delete(parent.children, c.level)
		if len(parent.children) == 0 {
			parent.children = nil
		}
	}
	return old, true
}

// Get returns the retained message of topic.
func (r *RetainTree[M]) Get(topic string) (m M, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n := r.walk(topic, false, nil); n != nil {
		return n.msg, n.has
	}
	return m, false
}

// Count returns the number of retained messages.
func (r *RetainTree[M]) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}

// Match calls fn for each retained message whose topic matches filter, until fn
// returns false. Topics beginning with '$' are not matched by a filter whose
// first level is a wildcard [MQTT-4.7.2-1]. filter must be valid and without a
// shared prefix (retained messages are not sent for shared subscriptions; pass
// the inner filter if the caller decides otherwise).
//
// fn runs under the tree's read lock: it must not call back into the tree, and
// should copy what it keeps and return quickly.
func (r *RetainTree[M]) Match(filter []byte, fn func(topic string, m M) bool) {
	if len(filter) == 0 || len(filter) > maxTopicLen {
		return // not a filter; level offsets are uint16
	}
	var endsBuf [stackLevels]uint16
	ends := splitLevels(filter, endsBuf[:0])
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.root.match(filter, ends, 0, fn)
}

// match visits the nodes under n that match the filter's levels [i, len(ends)).
// It returns false when fn asked to stop.
func (n *rnode[M]) match(filter []byte, ends []uint16, i int, fn func(string, M) bool) bool {
	if i == len(ends) {
		return !n.has || fn(n.topic, n.msg)
	}
	level := levelAt(filter, ends, i)
	if len(level) == 1 && (level[0] == '+' || level[0] == '#') {
		if level[0] == '#' && n.has && !fn(n.topic, n.msg) {
			// '#' also matches the parent level: "a/#" matches "a" [MQTT-4.7.1-2].
			// (The root never holds a message, so a lone "#" is unaffected.)
			return false
		}
		for key, c := range n.children {
			if i == 0 && len(key) > 0 && key[0] == '$' {
				continue // [MQTT-4.7.2-1]
			}
			if level[0] == '#' {
				if !c.all(fn) {
					return false
				}
			} else if !c.match(filter, ends, i+1, fn) {
				return false
			}
		}
		return true
	}
	if c := n.children[string(level)]; c != nil {
		return c.match(filter, ends, i+1, fn)
	}
	return true
}

// all visits n and everything below it; false when fn asked to stop.
func (n *rnode[M]) all(fn func(string, M) bool) bool {
	if n.has && !fn(n.topic, n.msg) {
		return false
	}
	for _, c := range n.children {
		if !c.all(fn) {
			return false
		}
	}
	return true
}

// Range calls fn for every retained message until fn returns false, under the
// read lock (same rules as Match). For the storage seam and $SYS counts.
func (r *RetainTree[M]) Range(fn func(topic string, m M) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.root.all(fn)
}
