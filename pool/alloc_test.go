//go:build !race

package pool

import (
	"bytes"
	"testing"
)

// TestSteadyStateDoesNotAllocate is the pool's promise as a test: once warm,
// Get/Put and NewShared/Retain/Release allocate nothing. (Under -race
// sync.Pool drops items at random, so this test is built without it.)
func TestSteadyStateDoesNotAllocate(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 256)
	getPut := func() {
		buf := Get()
		buf.B = append(buf.B, payload...)
		Put(buf)
	}
	shared := func() {
		s := NewShared(payload)
		s.Retain()
		s.Release()
		s.Release()
	}
	getPut()
	shared()
	if n := testing.AllocsPerRun(1000, getPut); n != 0 {
		t.Errorf("Get/Put: %.2f allocations per cycle", n)
	}
	if n := testing.AllocsPerRun(1000, shared); n != 0 {
		t.Errorf("NewShared/Release: %.2f allocations per cycle", n)
	}
}
