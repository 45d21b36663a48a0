package pool

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Size classes for Shared: powers of two from 64 B to MaxPooled. A Shared's
// size is known when it is made, so it takes a buffer of exactly the class
// that fits (at most 2x waste) and goes back to the same class: classes keep
// a burst of large messages from handing their buffers to small ones.
const (
	minClassBits = 6
	maxClassBits = 20 // MaxPooled
	numClasses   = maxClassBits - minClassBits + 1
)

// sharedPools holds, per class, Shared values together with their buffer, so
// that NewShared costs one pool operation and no allocation in steady state.
var sharedPools [numClasses]sync.Pool

// Shared is a reference-counted, immutable byte slice: one encoded message
// delivered to many connections on many event loops. NewShared returns it with
// one reference; every holder that keeps it beyond the giver's own lifetime
// calls Retain, and every holder calls Release once when done. At zero the
// buffer returns to the pool.
//
// Bytes must not be modified after the Shared has been handed to another
// holder: other loops may be writing it to their sockets. Retain and Release
// are safe for concurrent use; Bytes is safe while the caller holds a
// reference.
type Shared struct {
	b     []byte
	refs  atomic.Int32
	class int8 // index into sharedPools, -1 when not pooled
}

// NewShared copies b into a pooled buffer and returns it with one reference.
func NewShared(b []byte) *Shared {
	c := classOf(len(b))
	var s *Shared
	if c < 0 {
		s = &Shared{b: make([]byte, len(b)), class: -1}
	} else if v := sharedPools[c].Get(); v != nil {
		s = v.(*Shared)
		s.b = s.b[:len(b)]
	} else {
		s = &Shared{b: make([]byte, len(b), 1<<(c+minClassBits)), class: int8(c)}
	}
	copy(s.b, b)
	s.refs.Store(1)
	return s
}

// classOf returns the class of the smallest buffer that holds n bytes, or -1
// when n exceeds MaxPooled.
func classOf(n int) int {
	if n > MaxPooled {
		return -1
	}
	if n <= 1<<minClassBits {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassBits
}

// Bytes returns the message. Valid while the caller holds a reference; must not
// be modified.
func (s *Shared) Bytes() []byte { return s.b }

// Len returns len(s.Bytes()).
func (s *Shared) Len() int { return len(s.b) }

// Retain adds a reference. The caller must already hold one.
func (s *Shared) Retain() {
	if s.refs.Add(1) <= 1 {
		panic("pool: Shared.Retain on a released Shared; Retain only while holding a reference")
	}
}

// Release drops a reference; the last one returns the buffer to the pool, after
// which neither s nor its Bytes may be used.
func (s *Shared) Release() {
	switch n := s.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("pool: Shared released more times than retained; call Release once per NewShared or Retain")
	}
	if s.class >= 0 {
		s.b = s.b[:0]
		sharedPools[s.class].Put(s)
	}
}
