package server

import (
	"testing"
	"unsafe"
)

// TestIdleStructSizes guards the per-connection cost of an idle connection
// (the density target in benchmarks/RESULTS.md): every idle connection holds
// one client and one session, so a field that pushes either into the next
// allocation size class costs 16 bytes or more per connection. Move new
// fields behind clientExtra, or into existing padding, instead.
func TestIdleStructSizes(t *testing.T) {
	if n := unsafe.Sizeof(client{}); n > 80 {
		t.Errorf("client is %d bytes, over the 80-byte size class", n)
	}
	if n := unsafe.Sizeof(session{}); n > 64 {
		t.Errorf("session is %d bytes, over the 64-byte size class", n)
	}
	// Every client with a user name (most devices) holds a clientExtra.
	if n := unsafe.Sizeof(clientExtra{}); n > 112 {
		t.Errorf("clientExtra is %d bytes, over the 112-byte size class: put rarely used fields behind a pointer (as clientACL holds the topic rules)", n)
	}
}
