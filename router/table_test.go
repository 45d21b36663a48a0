package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// matchCases are (filter, topic, match) triples covering wildcards, '$' topics
// and empty levels. Each is checked against the table, the retained tree and
// the reference matcher, so the reference itself is pinned down too.
var matchCases = []struct {
	filter, topic string
	want          bool
}{
	{"a/b", "a/b", true},
	{"a/b", "a/b/", false},
	{"a/b", "a", false},
	{"a/b", "A/b", false},
	{"a/+", "a/b", true},
	{"a/+", "a", false},
	{"a/+", "a/", true},
	{"a/+", "a/b/c", false},
	{"a/+/c", "a/b/c", true},
	{"a/+/c", "a//c", true},
	{"+", "a", true},
	{"+", "a/", false},
	{"+", "/a", false},
	{"+/+", "/", true},
	{"/+", "/a", true},
	{"/+", "a", false},
	{"+/", "a/", true},
	{"a/#", "a", true}, // '#' matches the parent level [MQTT-4.7.1-2]
	{"a/#", "a/", true},
	{"a/#", "a/b/c", true},
	{"a/#", "ab", false},
	{"a/#", "b/a", false},
	{"a/b/#", "a/b", true},
	{"a/b/#", "a", false},
	{"+/+/#", "a", false},
	{"+/+/#", "a/b", true},
	{"+/#", "/", true},
	{"/#", "/", true},
	{"/#", "/a/b", true},
	{"/#", "a", false},
	{"#", "a", true},
	{"#", "/", true},
	{"#", "a/b/c", true},
	{"a//b", "a//b", true},
	{"a//b", "a/b", false},
	{"a/+/+", "a//", true},
	{"a/+", "a//", false},
	// '$' topics [MQTT-4.7.2-1]
	{"#", "$SYS/x", false},
	{"#", "$SYS", false},
	{"+/x", "$SYS/x", false},
	{"+", "$SYS", false},
	{"+/#", "$SYS/x", false},
	{"$SYS/#", "$SYS/x", true},
	{"$SYS/#", "$SYS", true},
	{"$SYS/+", "$SYS/x", true},
	{"$SYS/x", "$SYS/x", true},
	{"$SYS", "$SYS", true},
	{"a/#", "a/$x", true}, // the rule is about the first level only
	{"a/+", "a/$x", true},
	{"x/$SYS", "x/$SYS", true},
}

func TestMatchTable(t *testing.T) {
	for _, c := range matchCases {
		if got := refMatch(c.filter, c.topic); got != c.want {
			t.Errorf("reference: %q vs %q = %v, want %v", c.filter, c.topic, got, c.want)
		}
		for _, shards := range []int{1, 7} {
			tb := NewTable(shards, SharedRoundRobin)
			cl := newClient("c")
			tb.Subscribe(Sub{Client: cl, Filter: c.filter, QoS: 1})
			var r Result
			tb.Match([]byte(c.topic), nil, &r)
			if got := len(r.Deliveries) == 1; got != c.want {
				t.Errorf("shards=%d: filter %q topic %q matched=%v (%d deliveries), want %v", shards, c.filter, c.topic, got, len(r.Deliveries), c.want)
			}
			// The same filter as a shared subscription matches identically.
			tb.Subscribe(Sub{Client: cl, Filter: "$share/g/" + c.filter, QoS: 1})
			tb.Match([]byte(c.topic), nil, &r)
			want := 0
			if c.want {
				want = 2
			}
			if len(r.Deliveries) != want {
				t.Errorf("shards=%d: filter %q (+ shared) topic %q: %d deliveries, want %d", shards, c.filter, c.topic, len(r.Deliveries), want)
			}
		}
	}
}

// TestMatchAllAgainstReference subscribes every filter of matchCases at once
// (one client each, so the trie shares nodes between them) and checks every
// topic against the reference.
func TestMatchAllAgainstReference(t *testing.T) {
	tb := NewTable(4, SharedRoundRobin)
	filters := map[string]bool{}
	for _, c := range matchCases {
		filters[c.filter] = true
	}
	for f := range filters {
		tb.Subscribe(Sub{Client: newClient(f), Filter: f})
	}
	var r Result
	for _, c := range matchCases {
		tb.Match([]byte(c.topic), nil, &r)
		var want []string
		for f := range filters {
			if refMatch(f, c.topic) {
				want = append(want, f)
			}
		}
		slices.Sort(want)
		if got := deliveryClients(&r); !slices.Equal(got, want) {
			t.Errorf("topic %q: got %q, want %q", c.topic, got, want)
		}
	}
}

// TestMatchRandomAgainstReference compares the trie with the reference on
// random filters and topics from a small alphabet (so that they collide).
func TestMatchRandomAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	levels := []string{"a", "b", "", "$s"}
	randTopic := func() string {
		n := 1 + rng.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = levels[rng.IntN(len(levels))]
		}
		return strings.Join(parts, "/")
	}
	randFilter := func() string {
		n := 1 + rng.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			switch x := rng.IntN(6); {
			case x == 0:
				parts[i] = "+"
			case x == 1 && i == n-1:
				parts[i] = "#"
			default:
				parts[i] = levels[rng.IntN(len(levels))]
			}
		}
		return strings.Join(parts, "/")
	}
	tb := NewTable(3, SharedRoundRobin)
	filters := map[string]bool{}
	for range 200 {
		f := randFilter()
		if f == "" {
			continue // one empty level: not a filter
		}
		if filters[f] {
			continue // one client per filter, named after it
		}
		if !ValidFilter([]byte(f)) {
			t.Fatalf("generated invalid filter %q", f)
		}
		filters[f] = true
		tb.Subscribe(Sub{Client: newClient(f), Filter: f})
	}
	if tb.Count() != len(filters) {
		t.Fatalf("Count = %d, want %d", tb.Count(), len(filters))
	}
	var r Result
	for range 500 {
		topic := randTopic()
		if !ValidTopicName([]byte(topic)) {
			continue
		}
		tb.Match([]byte(topic), nil, &r)
		var want []string
		for f := range filters {
			if refMatch(f, topic) {
				want = append(want, f)
			}
		}
		slices.Sort(want)
		if got := deliveryClients(&r); !slices.Equal(got, want) {
			t.Fatalf("topic %q: got %q, want %q", topic, got, want)
		}
	}
}

func TestMergeOverlappingSubscriptions(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a, b := newClient("a"), newClient("b")
	tb.Subscribe(Sub{Client: a, Filter: "s/+/t", QoS: 0, ID: 7})
	tb.Subscribe(Sub{Client: a, Filter: "s/#", QoS: 2, ID: 9})
	tb.Subscribe(Sub{Client: a, Filter: "#", QoS: 1, RetainAsPublished: true}) // no id
	tb.Subscribe(Sub{Client: a, Filter: "s/x/t", QoS: 1, ID: 11})
	tb.Subscribe(Sub{Client: b, Filter: "s/x/t", QoS: 1, ID: 1})
	var r Result
	tb.Match([]byte("s/x/t"), nil, &r)
	if len(r.Deliveries) != 2 {
		t.Fatalf("%d deliveries, want 2 (one per client): %+v", len(r.Deliveries), r.Deliveries)
	}
	da := findDelivery(t, &r, a, false)
	if da.QoS != 2 {
		t.Errorf("merged QoS = %d, want the maximum 2", da.QoS)
	}
	if !da.RetainAsPublished {
		t.Errorf("RetainAsPublished not OR-ed over the client's subscriptions")
	}
	ids := slices.Clone(da.SubIDs)
	slices.Sort(ids)
	if !slices.Equal(ids, []uint32{7, 9, 11}) {
		t.Errorf("SubIDs = %v, want 7, 9, 11", da.SubIDs)
	}
	db := findDelivery(t, &r, b, false)
	if db.QoS != 1 || !slices.Equal(db.SubIDs, []uint32{1}) || db.RetainAsPublished {
		t.Errorf("b's delivery = %+v", db)
	}
	// SubIDs of different deliveries must not overlap: appending to one must
	// not clobber the other.
	_ = append(db.SubIDs, 99)
	if !slices.Equal(da.SubIDs, findDelivery(t, &r, a, false).SubIDs) {
		t.Errorf("appending to one delivery's SubIDs changed another's")
	}
	// Only a subscription without id matches: SubIDs is nil.
	tb.Match([]byte("q"), nil, &r)
	if d := findDelivery(t, &r, a, false); d.SubIDs != nil || d.QoS != 1 {
		t.Errorf("delivery via '#' only = %+v, want QoS 1 and no SubIDs", d)
	}
}

// TestMergeManyClients crosses the linear-scan/map threshold of the merge.
func TestMergeManyClients(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	const n = 100
	for i := range n {
		c := newClient(fmt.Sprint("c", i))
		tb.Subscribe(Sub{Client: c, Filter: "m/+", QoS: 0, ID: uint32(2*i + 1)})
		tb.Subscribe(Sub{Client: c, Filter: "m/#", QoS: 1, ID: uint32(2*i + 2)})
	}
	var r Result
	for round := range 3 { // reuse r: the map is cleared between rounds
		tb.Match([]byte("m/x"), nil, &r)
		if len(r.Deliveries) != n {
			t.Fatalf("round %d: %d deliveries, want %d", round, len(r.Deliveries), n)
		}
		seen := map[Subscriber]bool{}
		for _, d := range r.Deliveries {
			if seen[d.Client] {
				t.Fatalf("client %s delivered twice", d.Client.ClientID())
			}
			seen[d.Client] = true
			var i int
			fmt.Sscanf(d.Client.ClientID(), "c%d", &i)
			ids := slices.Clone(d.SubIDs)
			slices.Sort(ids)
			if d.QoS != 1 || !slices.Equal(ids, []uint32{uint32(2*i + 1), uint32(2*i + 2)}) {
				t.Fatalf("delivery %+v", d)
			}
		}
	}
}

func TestNoLocal(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a, b := newClient("a"), newClient("b")
	tb.Subscribe(Sub{Client: a, Filter: "n/x", NoLocal: true, ID: 1})
	tb.Subscribe(Sub{Client: a, Filter: "n/+", ID: 2}) // without NoLocal: still delivers to a
	tb.Subscribe(Sub{Client: b, Filter: "n/x", NoLocal: true})
	var r Result
	tb.Match([]byte("n/x"), a, &r)
	da := findDelivery(t, &r, a, false)
	if !slices.Equal(da.SubIDs, []uint32{2}) {
		t.Errorf("a's SubIDs = %v, want only the non-NoLocal subscription's [2]", da.SubIDs)
	}
	findDelivery(t, &r, b, false)

	tb.Unsubscribe(a, []byte("n/+"))
	tb.Match([]byte("n/x"), a, &r)
	if got := deliveryClients(&r); !slices.Equal(got, []string{"b"}) {
		t.Errorf("publisher a with NoLocal: deliveries %q, want [b]", got)
	}
	tb.Match([]byte("n/x"), b, &r)
	if got := deliveryClients(&r); !slices.Equal(got, []string{"a"}) {
		t.Errorf("publisher b: deliveries %q, want [a]", got)
	}
	tb.Match([]byte("n/x"), nil, &r)
	if got := deliveryClients(&r); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("no publisher: deliveries %q, want [a b]", got)
	}
	// NoLocal does not apply to shared subscriptions.
	tb.Subscribe(Sub{Client: a, Filter: "$share/g/n/x", NoLocal: true})
	tb.Match([]byte("n/x"), a, &r)
	if got := deliveryClients(&r); !slices.Equal(got, []string{"a(s)", "b"}) {
		t.Errorf("shared NoLocal: deliveries %q, want [a(s) b]", got)
	}
}

func TestResubscribeReplaces(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a := newClient("a")
	if tb.Subscribe(Sub{Client: a, Filter: "r/+", QoS: 2, ID: 5}) {
		t.Fatal("first Subscribe reported existed")
	}
	if !tb.Subscribe(Sub{Client: a, Filter: "r/+", QoS: 0, ID: 6}) { // [MQTT-3.8.4-3]
		t.Fatal("second Subscribe did not report existed")
	}
	if tb.Count() != 1 {
		t.Fatalf("Count = %d after replace, want 1", tb.Count())
	}
	var r Result
	tb.Match([]byte("r/x"), nil, &r)
	d := findDelivery(t, &r, a, false)
	if d.QoS != 0 || !slices.Equal(d.SubIDs, []uint32{6}) {
		t.Errorf("after replace: %+v, want QoS 0 and id 6", d)
	}
	// Same for shared subscriptions.
	tb.Subscribe(Sub{Client: a, Filter: "$share/g/r/x", QoS: 2, ID: 1})
	if !tb.Subscribe(Sub{Client: a, Filter: "$share/g/r/x", QoS: 1, ID: 2}) {
		t.Fatal("shared resubscribe did not report existed")
	}
	tb.Match([]byte("r/x"), nil, &r)
	if d := findDelivery(t, &r, a, true); d.QoS != 1 || !slices.Equal(d.SubIDs, []uint32{2}) || d.Group != "g" || d.Filter != "r/x" {
		t.Errorf("shared after replace: %+v", d)
	}
	if tb.Count() != 2 {
		t.Fatalf("Count = %d, want 2", tb.Count())
	}
}

func TestUnsubscribe(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a, b := newClient("a"), newClient("b")
	filters := []string{"u/a", "u/+", "u/#", "#", "+/a", "$share/g/u/a", "$queue/u/a", "u//x"}
	for _, f := range filters {
		tb.Subscribe(Sub{Client: a, Filter: f})
		tb.Subscribe(Sub{Client: b, Filter: f})
	}
	if tb.Count() != 2*len(filters) {
		t.Fatalf("Count = %d, want %d", tb.Count(), 2*len(filters))
	}
	if tb.Unsubscribe(a, []byte("u/nothing")) || tb.Unsubscribe(a, []byte("$share/h/u/a")) || tb.Unsubscribe(a, []byte("u")) {
		t.Fatal("Unsubscribe of a filter never subscribed reported existed")
	}
	if !tb.Unsubscribe(a, []byte("u/a")) || tb.Unsubscribe(a, []byte("u/a")) {
		t.Fatal("Unsubscribe u/a: want true once, then false")
	}
	if n := tb.UnsubscribeAll(a, filters); n != len(filters)-1 {
		t.Fatalf("UnsubscribeAll removed %d, want %d", n, len(filters)-1)
	}
	var r Result
	for _, topic := range []string{"u/a", "u//x", "x/a"} {
		tb.Match([]byte(topic), nil, &r)
		for _, d := range r.Deliveries {
			if d.Client == a {
				t.Fatalf("topic %q still delivers to unsubscribed a", topic)
			}
		}
	}
	if n := tb.UnsubscribeAll(b, filters); n != len(filters) {
		t.Fatalf("UnsubscribeAll(b) removed %d, want %d", n, len(filters))
	}
	if tb.Count() != 0 {
		t.Fatalf("Count = %d, want 0", tb.Count())
	}
	// Every emptied node was pruned: the tries are back to bare roots.
	for i := range tb.shards {
		if !tb.shards[i].root.empty() {
			t.Fatalf("shard %d not pruned: %+v", i, tb.shards[i].root)
		}
	}
	if !tb.wild.root.empty() {
		t.Fatalf("wildcard shard not pruned")
	}
}

// TestUnsubscribeKeepsSiblings checks that pruning stops at nodes still in use.
func TestUnsubscribeKeepsSiblings(t *testing.T) {
	tb := NewTable(1, SharedRoundRobin)
	a := newClient("a")
	tb.Subscribe(Sub{Client: a, Filter: "k/l/m"})
	tb.Subscribe(Sub{Client: a, Filter: "k/l"})
	tb.Subscribe(Sub{Client: a, Filter: "k/l/+/n"})
	tb.Unsubscribe(a, []byte("k/l/m"))
	var r Result
	for _, topic := range []string{"k/l", "k/l/x/n"} {
		tb.Match([]byte(topic), nil, &r)
		if len(r.Deliveries) != 1 {
			t.Errorf("topic %q: %d deliveries after removing a sibling, want 1", topic, len(r.Deliveries))
		}
	}
}

// TestManySubscribersOneFilter crosses the subList index threshold both ways.
func TestManySubscribersOneFilter(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	clients := make([]*testClient, 200)
	for i := range clients {
		clients[i] = newClient(fmt.Sprint(i))
		tb.Subscribe(Sub{Client: clients[i], Filter: "hot", QoS: 1})
	}
	for i := range clients {
		if !tb.Subscribe(Sub{Client: clients[i], Filter: "hot", QoS: 2}) {
			t.Fatalf("resubscribe %d not found", i)
		}
	}
	var r Result
	for i := 0; i < len(clients); i += 2 {
		if !tb.Unsubscribe(clients[i], []byte("hot")) {
			t.Fatalf("unsubscribe %d not found", i)
		}
	}
	tb.Match([]byte("hot"), nil, &r)
	if len(r.Deliveries) != 100 {
		t.Fatalf("%d deliveries, want 100", len(r.Deliveries))
	}
	for _, d := range r.Deliveries {
		var i int
		fmt.Sscan(d.Client.ClientID(), &i)
		if i%2 == 0 || d.QoS != 2 {
			t.Fatalf("unexpected delivery %s QoS %d", d.Client.ClientID(), d.QoS)
		}
	}
	for i := 1; i < len(clients); i += 2 {
		if !tb.Unsubscribe(clients[i], []byte("hot")) {
			t.Fatalf("unsubscribe %d not found", i)
		}
	}
	if tb.Count() != 0 {
		t.Fatalf("Count = %d", tb.Count())
	}
}

func TestMatchDeepTopic(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	a := newClient("a")
	deep := strings.Repeat("d/", 99) + "end" // 100 levels: beyond the stack array
	tb.Subscribe(Sub{Client: a, Filter: deep, ID: 1})
	tb.Subscribe(Sub{Client: a, Filter: strings.Repeat("+/", 99) + "#", ID: 2})
	var r Result
	tb.Match([]byte(deep), nil, &r)
	d := findDelivery(t, &r, a, false)
	if len(d.SubIDs) != 2 {
		t.Fatalf("deep topic: SubIDs %v, want both", d.SubIDs)
	}
}

func TestResultResetDropsReferences(t *testing.T) {
	tb := NewTable(8, SharedRoundRobin)
	tb.Subscribe(Sub{Client: newClient("a"), Filter: "z", ID: 1})
	var r Result
	tb.Match([]byte("z"), nil, &r)
	r.Reset()
	if len(r.Deliveries) != 0 || r.Deliveries[:1][0].Client != nil {
		t.Fatal("Reset kept a reference to the subscriber")
	}
}
