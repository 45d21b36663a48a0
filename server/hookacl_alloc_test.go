//go:build !race

package server_test

import (
	"testing"

	"github.com/cp7/cp7/server"
)

// TestPublishWithHookAllocations: with an HTTP hook whose decision is
// cached, the QoS 0 publish path still allocates nothing (the cache is
// keyed by a hash of the borrowed topic bytes, no JSON). Not under -race.
func TestPublishWithHookAllocations(t *testing.T) {
	allocs, got := server.PublishQoS0Allocs(t, warmHook(t))
	if allocs != 0 {
		t.Errorf("%.1f allocations per QoS 0 publish with a cached hook decision, want 0", allocs)
	}
	if got < 201*64 {
		t.Errorf("the subscriber received %d bytes: the publishes were denied or lost", got)
	}
}
