package authhttp

import (
	"encoding/json"
	"hash/maphash"
	"sync"
	"time"
	"unsafe"

	"github.com/cp7/cp7/server"
)

// Publish and subscribe decisions on the broker's topic checks.
//
// Authorizer makes the hook a server.Authorizer whose per-client view is a
// server.SlowTopicAuthorizer: on an event loop the broker asks Lookup,
// which answers from the decision cache without allocating (the key is a
// seeded maphash of action, client id, user name and topic; the entry keeps
// the strings, so a hash collision is a miss, never a wrong answer); on a
// miss the broker parks the packet and runs Fetch (one POST, up to the
// timeout) on its auth workers. Deliveries (receive) are not asked: a
// per-message HTTP call is far too costly, and the subscribe decision
// already covers what a client reads, as Mosquitto's HTTP auth plugins do.

// Authorizer returns the hook's publish and subscribe decisions as an
// Authorizer for server.Config.ACL (combine with an ACL file by
// server.AllOf).
func (h *Hook) Authorizer() server.Authorizer { return hookAuthorizer{h} }

type hookAuthorizer struct{ h *Hook }

// Generation never changes: the views read the hook's cache, which
// Invalidate empties.
func (hookAuthorizer) Generation() uint64 { return 0 }

func (a hookAuthorizer) ForClient(id *server.ClientIdentity) server.TopicAuthorizer {
	return &view{h: a.h, clientID: id.ClientID, username: id.Username}
}

// view is one client's questions. Lookup and the Can methods run on the
// client's loop; Fetch on an auth worker.
type view struct {
	h                  *Hook
	clientID, username string
}

func (v *view) Lookup(action string, topic []byte) (allow, known bool) {
	if action == server.ActionReceive {
		return true, true
	}
	return v.h.cachedTopic(action, v.clientID, v.username, topic)
}

func (v *view) Fetch(action, topic string) bool {
	return v.h.fetchTopic(action, v.clientID, v.username, topic)
}

func (v *view) Overloaded(string) bool { return v.h.opt.FailOpen }

// CanPublish and CanSubscribe answer where the broker cannot wait (a will
// whose question was still out when its connection ended): the cached
// decision, else the fail policy.
func (v *view) CanPublish(t []byte) bool   { return v.quick(server.ActionPublish, t) }
func (v *view) CanSubscribe(f []byte) bool { return v.quick(server.ActionSubscribe, f) }

// CanReceive allows: deliveries are covered by the subscribe decision.
func (v *view) CanReceive([]byte) bool { return true }

func (v *view) quick(action string, t []byte) bool {
	if allow, known := v.Lookup(action, t); known {
		return allow
	}
	return v.h.opt.FailOpen
}

// topicCache holds publish/subscribe decisions, in shards by key: every
// event loop reads it on each publish, and one RWMutex's reader count
// would be one cache line all cores write.
type topicCache struct {
	seed   maphash.Seed
	shards [topicShards]topicShard
}

const topicShards = 32

type topicShard struct {
	mu sync.RWMutex
	m  map[uint64]topicEntry
	_  [32]byte // a shard per 64-byte line
}

func (tc *topicCache) reset() {
	for i := range tc.shards {
		sh := &tc.shards[i]
		sh.mu.Lock()
		sh.m = make(map[uint64]topicEntry)
		sh.mu.Unlock()
	}
}

func (tc *topicCache) shard(k uint64) *topicShard { return &tc.shards[k>>59] }

type topicEntry struct {
	action, clientID, username, topic string
	allow                             bool
	expires                           int64 // Unix nanoseconds
}

func (h *Hook) topicKey(action, clientID, username string, topic []byte) uint64 {
	var m maphash.Hash
	m.SetSeed(h.topics.seed)
	// Lengths first, so that no two different tuples write the same bytes.
	var n [12]byte
	put := func(i, v int) {
		n[i], n[i+1], n[i+2], n[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	put(0, len(clientID))
	put(4, len(username))
	put(8, len(topic))
	_, _ = m.Write(n[:])
	_, _ = m.WriteString(action)
	_ = m.WriteByte(0)
	_, _ = m.WriteString(clientID)
	_, _ = m.WriteString(username)
	_, _ = m.Write(topic)
	return m.Sum64()
}

// cachedTopic never blocks and does not allocate. topic is borrowed.
func (h *Hook) cachedTopic(action, clientID, username string, topic []byte) (allow, known bool) {
	if h.opt.CacheTTL <= 0 {
		return false, false
	}
	k := h.topicKey(action, clientID, username, topic)
	sh := h.topics.shard(k)
	sh.mu.RLock()
	e, ok := sh.m[k]
	sh.mu.RUnlock()
	if !ok || e.action != action || e.clientID != clientID || e.username != username ||
		e.topic != string(topic) || time.Now().UnixNano() > e.expires {
		return false, false
	}
	return e.allow, true
}

// fetchTopic asks the service (blocking up to the timeout) unless the cache
// knows; a failure gives the fail policy and is not cached.
func (h *Hook) fetchTopic(action, clientID, username, topic string) bool {
	if allow, known := h.cachedTopic(action, clientID, username, unsafeBytes(topic)); known {
		return allow
	}
	body, err := json.Marshal(map[string]string{"action": action, "clientid": clientID, "username": username, "topic": topic})
	if err != nil {
		return h.opt.FailOpen
	}
	res, err := h.post(body)
	if err != nil {
		h.failures.Add(1)
		return h.opt.FailOpen
	}
	// "ignore" abstains: the other authorizers (an ACL file) decide, as
	// for CONNECT the next method does.
	allow := res.Result != "deny"
	if h.opt.CacheTTL > 0 {
		k := h.topicKey(action, clientID, username, unsafeBytes(topic))
		e := topicEntry{action: action, clientID: clientID, username: username, topic: topic,
			allow: allow, expires: time.Now().Add(h.opt.CacheTTL).UnixNano()}
		limit := max(1, h.opt.CacheMax/topicShards)
		sh := h.topics.shard(k)
		sh.mu.Lock()
		if len(sh.m) >= limit {
			for key := range sh.m { // drop arbitrary entries: the size stays bounded
				delete(sh.m, key)
				if len(sh.m) < limit {
					break
				}
			}
		}
		sh.m[k] = e
		sh.mu.Unlock()
	}
	return allow
}

// unsafeBytes views s as bytes for hashing and comparing; never written.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
