package router

import (
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// testClient is a Subscriber for tests.
type testClient struct {
	id     string
	online atomic.Bool
}

func newClient(id string) *testClient {
	c := &testClient{id: id}
	c.online.Store(true)
	return c
}

func (c *testClient) ClientID() string { return c.id }
func (c *testClient) Connected() bool  { return c.online.Load() }

// refMatch is the reference semantics of filter matching, written for clarity
// rather than speed, used to check the trie.
func refMatch(filter, topic string) bool {
	if _, inner, ok := parseSharedString(filter); ok {
		filter = inner
	}
	f := strings.Split(filter, "/")
	tp := strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (f[0] == "+" || f[0] == "#") {
		return false // [MQTT-4.7.2-1]
	}
	for i, lv := range f {
		if lv == "#" {
			return true // matches the parent level and everything below
		}
		if i >= len(tp) {
			return false
		}
		if lv != "+" && lv != tp[i] {
			return false
		}
	}
	return len(f) == len(tp)
}

// deliveryClients returns the sorted client ids of r's deliveries, with a
// "(s)" suffix on shared ones.
func deliveryClients(r *Result) []string {
	var ids []string
	for _, d := range r.Deliveries {
		id := d.Client.ClientID()
		if d.Shared {
			id += "(s)"
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// findDelivery returns the single non-shared delivery for c, failing the test
// when there is not exactly one.
func findDelivery(t *testing.T, r *Result, c Subscriber, shared bool) Delivery {
	t.Helper()
	var found []Delivery
	for _, d := range r.Deliveries {
		if d.Client == c && d.Shared == shared {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d deliveries (shared=%v) for %s, want 1: %+v", len(found), shared, c.ClientID(), r.Deliveries)
	}
	return found[0]
}
