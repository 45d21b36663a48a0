package router

import (
	"fmt"
	"slices"
	"testing"
)

// sharedCounts publishes n messages on topic and counts, per client id, the
// shared deliveries of group/filter, failing unless each message gives exactly
// one.
func sharedCounts(t *testing.T, tb *Table, topic, group, filter string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	var r Result
	for range n {
		tb.Match([]byte(topic), nil, &r)
		got := 0
		for _, d := range r.Deliveries {
			if d.Shared && d.Group == group && d.Filter == filter {
				got++
				counts[d.Client.ClientID()]++
			}
		}
		if got != 1 {
			t.Fatalf("group %q filter %q: %d deliveries for one message, want exactly 1", group, filter, got)
		}
	}
	return counts
}

func TestSharedOneMemberPerGroup(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	cs := make([]*testClient, 6)
	for i := range cs {
		cs[i] = newClient(fmt.Sprint("m", i))
	}
	for _, c := range cs[:3] {
		tb.Subscribe(Sub{Client: c, Filter: "$share/g1/s/+"})
		tb.Subscribe(Sub{Client: c, Filter: "$share/g1/s/#"}) // same name, other filter: another group
	}
	for _, c := range cs[3:5] {
		tb.Subscribe(Sub{Client: c, Filter: "$share/g2/s/+"})
	}
	for _, c := range cs[2:] {
		tb.Subscribe(Sub{Client: c, Filter: "$queue/s/+"})
	}
	tb.Subscribe(Sub{Client: cs[5], Filter: "$share/g3/other"})
	var r Result
	for range 10 {
		tb.Match([]byte("s/x"), nil, &r)
		type key struct{ g, f string }
		seen := map[key]int{}
		for _, d := range r.Deliveries {
			if !d.Shared {
				t.Fatalf("unexpected non-shared delivery %+v", d)
			}
			seen[key{d.Group, d.Filter}]++
		}
		want := map[key]int{{"g1", "s/+"}: 1, {"g1", "s/#"}: 1, {"g2", "s/+"}: 1, {"$queue", "s/+"}: 1}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Fatalf("deliveries per group %v, want %v", seen, want)
		}
	}
}

func TestSharedRoundRobinEven(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	for i := range 3 {
		tb.Subscribe(Sub{Client: newClient(fmt.Sprint("m", i)), Filter: "$share/g/rr/+"})
	}
	counts := sharedCounts(t, tb, "rr/x", "g", "rr/+", 300)
	for id, n := range counts {
		if n != 100 {
			t.Errorf("member %s got %d of 300, want 100: %v", id, n, counts)
		}
	}
	if len(counts) != 3 {
		t.Errorf("members served: %v, want 3", counts)
	}
}

func TestSharedPrefersConnected(t *testing.T) {
	for _, st := range []SharedStrategy{SharedRoundRobin, SharedRandom, SharedHashClientID} {
		tb := NewTable(8, st)
		cs := []*testClient{newClient("a"), newClient("b"), newClient("c")}
		for _, c := range cs {
			tb.Subscribe(Sub{Client: c, Filter: "$share/g/p"})
		}
		cs[1].online.Store(false)
		counts := sharedCounts(t, tb, "p", "g", "p", 90)
		if counts["b"] != 0 {
			t.Errorf("strategy %d: offline member got %d messages", st, counts["b"])
		}
		cs[0].online.Store(false)
		counts = sharedCounts(t, tb, "p", "g", "p", 30)
		if counts["c"] != 30 {
			t.Errorf("strategy %d: only connected member got %d of 30: %v", st, counts["c"], counts)
		}
		// Nobody connected: still exactly one member (its session queues it).
		cs[2].online.Store(false)
		sharedCounts(t, tb, "p", "g", "p", 10)
	}
}

func TestSharedRandomReachesAll(t *testing.T) {
	tb := NewTable(8, SharedRandom)
	for i := range 3 {
		tb.Subscribe(Sub{Client: newClient(fmt.Sprint("m", i)), Filter: "$share/g/rnd"})
	}
	// Each member misses all 300 with probability (2/3)^300, about 1e-53.
	counts := sharedCounts(t, tb, "rnd", "g", "rnd", 300)
	if len(counts) != 3 {
		t.Errorf("random strategy served %v, want all 3 members", counts)
	}
}

func TestSharedHashSticksAndIgnoresOrder(t *testing.T) {
	ids := []string{"d", "a", "c", "b"}
	build := func(order []string) *Table {
		tb := NewTable(8, SharedHashTopic)
		for _, id := range order {
			tb.Subscribe(Sub{Client: newClient(id), Filter: "$share/g/h/+"})
		}
		return tb
	}
	t1 := build(ids)
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	t2 := build(rev)
	used := map[string]bool{}
	for i := range 50 {
		topic := fmt.Sprint("h/", i)
		c1 := sharedCounts(t, t1, topic, "g", "h/+", 5)
		c2 := sharedCounts(t, t2, topic, "g", "h/+", 1)
		if len(c1) != 1 {
			t.Fatalf("topic %q went to %v, want one member", topic, c1)
		}
		for id := range c1 {
			used[id] = true
			if c2[id] != 1 {
				t.Fatalf("topic %q: member %s in one table, %v in the other (subscribe order must not matter)", topic, id, c2)
			}
		}
	}
	if len(used) < 2 {
		t.Errorf("50 topics all went to %v", used)
	}
}

func TestSharedDeliveryFields(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a := newClient("a")
	tb.Subscribe(Sub{Client: a, Filter: "$share/grp/f/+", QoS: 2, ID: 42, RetainAsPublished: true})
	tb.Subscribe(Sub{Client: a, Filter: "f/#", QoS: 1, ID: 7})
	var r Result
	tb.Match([]byte("f/x"), nil, &r)
	if len(r.Deliveries) != 2 {
		t.Fatalf("%d deliveries, want 2 (shared and non-shared for the same client)", len(r.Deliveries))
	}
	d := findDelivery(t, &r, a, true)
	if d.QoS != 2 || !slices.Equal(d.SubIDs, []uint32{42}) || d.Group != "grp" || d.Filter != "f/+" || !d.RetainAsPublished {
		t.Errorf("shared delivery %+v", d)
	}
	n := findDelivery(t, &r, a, false)
	if n.QoS != 1 || !slices.Equal(n.SubIDs, []uint32{7}) {
		t.Errorf("non-shared delivery %+v", n)
	}
}

func TestQueue(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a, b := newClient("a"), newClient("b")
	tb.Subscribe(Sub{Client: a, Filter: "$queue/jobs/+", QoS: 1})
	tb.Subscribe(Sub{Client: b, Filter: "$queue/jobs/+", QoS: 1})
	counts := sharedCounts(t, tb, "jobs/1", QueueGroup, "jobs/+", 10)
	if counts["a"] != 5 || counts["b"] != 5 {
		t.Errorf("queue spread %v, want 5 each", counts)
	}
	if !tb.Unsubscribe(a, []byte("$queue/jobs/+")) {
		t.Fatal("unsubscribe $queue failed")
	}
	counts = sharedCounts(t, tb, "jobs/1", QueueGroup, "jobs/+", 4)
	if counts["b"] != 4 {
		t.Errorf("after a left: %v", counts)
	}
}

func TestPickShared(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a, b, c := newClient("a"), newClient("b"), newClient("c")
	for _, m := range []*testClient{a, b, c} {
		tb.Subscribe(Sub{Client: m, Filter: "$share/g/ps/#", QoS: 1, ID: 3})
	}
	seen := map[string]int{}
	for range 30 {
		d, ok := tb.PickShared("g", "ps/#", a)
		if !ok {
			t.Fatal("PickShared found no member")
		}
		if d.Client == Subscriber(a) {
			t.Fatal("PickShared returned the excluded member")
		}
		if !d.Shared || d.Group != "g" || d.Filter != "ps/#" || d.QoS != 1 || !slices.Equal(d.SubIDs, []uint32{3}) {
			t.Fatalf("PickShared delivery %+v", d)
		}
		seen[d.Client.ClientID()]++
	}
	if seen["b"] == 0 || seen["c"] == 0 {
		t.Errorf("PickShared spread %v, want both b and c", seen)
	}
	// Prefers connected members.
	b.online.Store(false)
	for range 10 {
		if d, _ := tb.PickShared("g", "ps/#", a); d.Client != Subscriber(c) {
			t.Fatalf("PickShared chose %s while c is the only other connected member", d.Client.ClientID())
		}
	}
	// The full filter form is accepted.
	if d, ok := tb.PickShared("g", "$share/g/ps/#", c); !ok || d.Client == Subscriber(c) {
		t.Fatalf("PickShared with full filter: %+v %v", d, ok)
	}
	// No other member.
	tb.Unsubscribe(b, []byte("$share/g/ps/#"))
	tb.Unsubscribe(c, []byte("$share/g/ps/#"))
	if d, ok := tb.PickShared("g", "ps/#", a); ok {
		t.Fatalf("PickShared with only the excluded member left returned %+v", d)
	}
	if _, ok := tb.PickShared("nope", "ps/#", nil); ok {
		t.Fatal("PickShared of an unknown group returned ok")
	}
	if _, ok := tb.PickShared("g", "no/such/filter", nil); ok {
		t.Fatal("PickShared of an unknown filter returned ok")
	}
	if d, ok := tb.PickShared("g", "ps/#", nil); !ok || d.Client != Subscriber(a) {
		t.Fatalf("PickShared with nil exclude: %+v %v", d, ok)
	}
}

// TestQueueAndShareQueueAreOneGroup pins down the documented aliasing of
// "$queue/f" and "$share/$queue/f".
func TestQueueAndShareQueueAreOneGroup(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a, b := newClient("a"), newClient("b")
	tb.Subscribe(Sub{Client: a, Filter: "$queue/x"})
	tb.Subscribe(Sub{Client: b, Filter: "$share/$queue/x"})
	counts := sharedCounts(t, tb, "x", QueueGroup, "x", 4)
	if counts["a"] != 2 || counts["b"] != 2 {
		t.Errorf("spread %v, want 2 each", counts)
	}
	// Each is still its own subscription, keyed by its own filter.
	if tb.Unsubscribe(a, []byte("$share/$queue/x")) {
		t.Fatal("a is not subscribed to $share/$queue/x")
	}
	if !tb.Unsubscribe(a, []byte("$queue/x")) || !tb.Unsubscribe(b, []byte("$share/$queue/x")) || tb.Count() != 0 {
		t.Fatal("unsubscribe failed")
	}
}

// TestSharedHashClientIDSticksPerPublisher: with SharedHashClientID, all of
// one publisher's messages go to one member whatever their topics, and
// different publishers spread over the members.
func TestSharedHashClientIDSticksPerPublisher(t *testing.T) {
	tb := NewTable(8, SharedHashClientID)
	for _, id := range []string{"m1", "m2", "m3"} {
		tb.Subscribe(Sub{Client: newClient(id), Filter: "$share/g/t/#"})
	}
	var r Result
	used := map[string]bool{}
	for p := range 30 {
		pub := newClient(fmt.Sprint("publisher-", p))
		var member string
		for i := range 20 {
			tb.Match([]byte(fmt.Sprint("t/", i)), pub, &r)
			if len(r.Deliveries) != 1 {
				t.Fatalf("%d deliveries, want 1", len(r.Deliveries))
			}
			got := r.Deliveries[0].Client.ClientID()
			if member == "" {
				member = got
			} else if got != member {
				t.Fatalf("publisher %d: topic t/%d went to %s, earlier ones to %s", p, i, got, member)
			}
		}
		used[member] = true
	}
	if len(used) < 2 {
		t.Errorf("30 publishers all went to %v", used)
	}
}
