//go:build !race

package server

import "testing"

// TestQoS1RoundAllocations: a QoS 1 message end to end (PUBLISH, PUBACK to
// the publisher, delivery, the subscriber's PUBACK) allocates only the
// message's own copy (the Message and its bytes), which must outlive the
// turn until the subscriber acknowledges it. Session state, in-flight entries
// and cross-loop hand-over batches are reused. (Not under -race, which
// allocates on its own.)
func TestQoS1RoundAllocations(t *testing.T) {
	for _, cross := range []bool{false, true} {
		r := newQoS1Round(t, cross)
		r.run(t) // warm the spares and pools
		if got := testing.AllocsPerRun(200, func() { r.run(t) }); got > 2 {
			t.Errorf("cross-loop=%v: %.1f allocations per QoS 1 round, want at most 2 (the message copy)", cross, got)
		}
	}
}
