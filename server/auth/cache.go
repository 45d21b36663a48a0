package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"
	"time"

	"github.com/cp7/cp7/server"
)

// Key identifies credentials in the cache: HMAC-SHA256, under a random key
// made per process, of the user name and password. The cache never holds a
// password, nor anything from which one could be checked offline without
// the process's memory.
type Key [sha256.Size]byte

// Entry is what a cached verification gives back.
type Entry struct {
	User  string
	Rules *server.ClientRules
}

type cached struct {
	Entry
	expires int64 // Unix nanoseconds
}

// Cache is a bounded map of verified credentials with a TTL. Safe for
// concurrent use: Get runs on event loops (a read lock and one HMAC).
type Cache struct {
	ttl  time.Duration
	max  int
	pool sync.Pool // of *keyer (HMAC under the process key)

	mu sync.RWMutex
	m  map[Key]cached
}

// NewCache makes a cache of at most max entries, each kept at most ttl.
func NewCache(max int, ttl time.Duration) *Cache {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	c := &Cache{ttl: ttl, max: max, m: make(map[Key]cached)}
	c.pool.New = func() any { return &keyer{h: hmac.New(sha256.New, secret)} }
	return c
}

// keyer is a pooled HMAC with scratch space, so computing a key allocates
// nothing (slices handed to an interface method escape).
type keyer struct {
	h   hash.Hash
	buf [sha256.Size]byte
}

// Key computes the cache key of a user name and password.
func (c *Cache) Key(user, password []byte) Key {
	kr := c.pool.Get().(*keyer)
	kr.h.Reset()
	binary.BigEndian.PutUint32(kr.buf[:4], uint32(len(user))) // "ab"+"c" is not "a"+"bc"
	kr.h.Write(kr.buf[:4])
	kr.h.Write(user)
	kr.h.Write(password)
	var k Key
	copy(k[:], kr.h.Sum(kr.buf[:0]))
	c.pool.Put(kr)
	return k
}

// Get returns the entry for k if it is cached and fresh.
func (c *Cache) Get(k Key) (Entry, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || time.Now().UnixNano() > e.expires {
		return Entry{}, false
	}
	return e.Entry, true
}

// Put caches e under k for min(ttl, the cache's TTL). A full cache first
// drops expired entries, then arbitrary ones (Go's map order), so its size
// stays bounded.
func (c *Cache) Put(k Key, e Entry, ttl time.Duration) {
	if c.max <= 0 || c.ttl <= 0 {
		return
	}
	ttl = min(ttl, c.ttl)
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, v := range c.m {
			if now > v.expires {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cached{Entry: e, expires: now + int64(ttl)}
}

// Len is the number of entries (fresh or not).
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Clear drops every entry.
func (c *Cache) Clear() {
	c.mu.Lock()
	c.m = make(map[Key]cached)
	c.mu.Unlock()
}
