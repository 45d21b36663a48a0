//go:build !race

package router

import (
	"fmt"
	"testing"
)

// TestMatchDoesNotAllocate is the zero-allocation promise of Match with a
// reused Result, as a test: exact, wildcard, shared and '$' topics, merged
// subscription identifiers, and a fan-out past the merge's map threshold.
func TestMatchDoesNotAllocate(t *testing.T) {
	tb, _ := benchTable(t)
	for i := range 100 {
		c := newClient(fmt.Sprint("fan", i))
		tb.Subscribe(Sub{Client: c, Filter: "fan/out", ID: uint32(i + 1)})
		tb.Subscribe(Sub{Client: c, Filter: "fan/+", ID: uint32(i + 1000)}) // merged with the above
	}
	tb.Subscribe(Sub{Client: newClient("sys"), Filter: "$SYS/#"})
	topics := []string{
		"dev/10/telemetry",    // exact + dev/+ + '#'
		"dev/10/cmd",          // wildcard in both shards
		"site/5/floor/3/temp", // '#' below a literal
		"jobs/3/run",          // shared group
		"fan/out",             // 100+ deliveries: the merge's map
		"$SYS/broker/load",    // '$' topic: wildcard shard skipped
		"nothing/here",
	}
	var r Result
	for _, topic := range topics {
		tp := []byte(topic)
		tb.Match(tp, nil, &r) // grow r once
		if len(r.Deliveries) == 0 && topic != "nothing/here" {
			t.Fatalf("topic %q matched nothing", topic)
		}
	}
	for _, topic := range topics {
		tp := []byte(topic)
		if n := testing.AllocsPerRun(200, func() { tb.Match(tp, nil, &r) }); n != 0 {
			t.Errorf("Match(%q) allocates %.1f times per call with a reused Result", topic, n)
		}
	}
}

func TestValidationDoesNotAllocate(t *testing.T) {
	topic := []byte("a/b/c")
	filter := []byte("$share/g/a/+/#")
	if n := testing.AllocsPerRun(100, func() {
		ValidTopicName(topic)
		ValidFilter(filter)
		ParseShared(filter)
	}); n != 0 {
		t.Errorf("validation allocates %.1f times per call", n)
	}
}

func TestRetainGetMatchDoNotAllocate(t *testing.T) {
	rt := NewRetainTree[int]()
	rt.Set("a/b/c", 1)
	rt.Set("a/x/c", 2)
	filter := []byte("a/+/c")
	n := 0
	fn := func(string, int) bool { n++; return true }
	if a := testing.AllocsPerRun(100, func() {
		rt.Get("a/b/c")
		rt.Match(filter, fn)
	}); a != 0 {
		t.Errorf("Get+Match allocate %.1f times per call", a)
	}
}
