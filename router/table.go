package router

import (
	"sync"
	"sync/atomic"
)

// Subscriber owns subscriptions: a local session or (later) a remote cluster
// node. Implementations must be pointers (comparable, usable as map keys), and
// both methods must be safe to call from any goroutine, cheaply: Match calls
// Connected on shared-group members under a shard's read lock, so neither may
// call back into the Table.
//
// ClientID must not change while the subscriber holds subscriptions: shared
// groups keep their members sorted by it.
type Subscriber interface {
	ClientID() string
	Connected() bool // used to prefer online members of a shared group
}

// Sub is one subscription as stored. (Client, Filter) is its key.
type Sub struct {
	Client            Subscriber
	Filter            string // as subscribed, including any $share/{group}/ or $queue/ prefix
	Group             string // shared group name, "" when not shared; set by Table.Subscribe
	QoS               byte   // granted QoS
	NoLocal           bool   // MQTT 5 No Local; ignored for shared subscriptions
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32 // MQTT 5 subscription identifier, 0 = none
}

// Table is the subscription table, safe for concurrent use by many event
// loops.
//
// Sharding: a filter is placed by an FNV hash of its first level (after any
// shared prefix); filters whose first level is '+' or '#' go in one extra
// wildcard shard. Match therefore read-locks at most two shards, one at a time:
// the shard of the topic's first level and the wildcard shard. Publishers on
// different first levels never contend, and Subscribe write-locks one shard
// only. A shard is a trie rather than a map of filters because a publish must
// find every wildcard filter that matches, in time proportional to the topic's
// depth rather than to the number of filters.
//
// Lock order: at most one shard lock is held at a time.
type Table struct {
	shards   []shard
	wild     shard
	strategy SharedStrategy
	count    atomic.Int64
}

// shard is one trie behind its own lock. An RWMutex because publishes (reads)
// outnumber subscription changes by orders of magnitude.
type shard struct {
	mu   sync.RWMutex
	root node
	// Pad to separate cache lines: RLock writes the mutex's reader count, and
	// adjacent shards in the slice would otherwise share a line and make
	// readers of different shards contend anyway.
	_ [64]byte
}

// DefaultShards is the shard count NewTable uses when asked for fewer than one.
const DefaultShards = 64

// NewTable returns an empty table with the given number of literal shards
// (DefaultShards when shards < 1) and the shared-group strategy.
func NewTable(shards int, strategy SharedStrategy) *Table {
	if shards < 1 {
		shards = DefaultShards
	}
	return &Table{shards: make([]shard, shards), strategy: strategy}
}

// shardFor returns the shard that holds inner (a filter without shared prefix).
func (t *Table) shardFor(inner string) *shard {
	first := firstLevelString(inner)
	if first == "+" || first == "#" {
		return &t.wild
	}
	return &t.shards[fnv32(first)%uint32(len(t.shards))]
}

// Subscribe adds sub, or replaces the options of the subscription with the same
// Client and Filter [MQTT-3.8.4-3], and reports whether one existed. The table
// derives sub.Group from sub.Filter (ParseShared); callers need not set it.
// sub.Filter must be valid (ValidFilter): the table does not check it again.
func (t *Table) Subscribe(sub Sub) (existed bool) {
	gname, inner, shared := parseSharedString(sub.Filter)
	sub.Group = gname
	s := t.shardFor(inner)
	s.mu.Lock()
	n := find(&s.root, inner, true, nil)
	if shared {
		g := n.findGroup(gname)
		if g == nil {
			g = &group{name: gname, filter: inner}
			n.groups = append(n.groups, g)
		}
		existed = g.put(sub)
	} else {
		existed = n.subs.put(sub)
	}
	s.mu.Unlock()
	if !existed {
		t.count.Add(1)
	}
	return existed
}

// Unsubscribe removes c's subscription to filter (as subscribed, including any
// shared prefix) and reports whether it existed. Nodes left empty are pruned,
// so the table's memory follows its subscriptions.
func (t *Table) Unsubscribe(c Subscriber, filter []byte) (existed bool) {
	return t.unsubscribe(c, string(filter))
}

// UnsubscribeAll removes c's subscriptions to each of filters (the session's own
// list: the table keeps no per-client index) and returns how many existed.
func (t *Table) UnsubscribeAll(c Subscriber, filters []string) int {
	removed := 0
	for _, f := range filters {
		if t.unsubscribe(c, f) {
			removed++
		}
	}
	return removed
}

func (t *Table) unsubscribe(c Subscriber, filter string) (existed bool) {
	gname, inner, shared := parseSharedString(filter)
	s := t.shardFor(inner)
	var pathBuf [16]pathStep
	path := pathBuf[:0]
	s.mu.Lock()
	n := find(&s.root, inner, false, &path)
	if n != nil {
		if shared {
			if g := n.findGroup(gname); g != nil {
				existed = g.remove(c, filter)
				if len(g.members) == 0 {
					n.removeGroup(g)
				}
			}
		} else {
			existed = n.subs.remove(c)
		}
		if existed && n.empty() {
			prune(path)
		}
	}
	s.mu.Unlock()
	if existed {
		t.count.Add(-1)
	}
	return existed
}

// Count returns the number of subscriptions in the table.
func (t *Table) Count() int {
	return int(t.count.Load())
}
