package router

import (
	"fmt"
	"testing"
)

// benchTable builds a table of 10,000 mixed subscriptions from 2,000 clients:
//
//	6,000 exact    dev/{n}/telemetry (three clients per device)
//	2,000 '+' leaf dev/{n}/+
//	1,000 '+' root +/{n}/cmd            (wildcard shard)
//	  590 '#'      site/{n}/#
//	  400 shared   $share/g{n%20}/jobs/{n%20}/+
//	   10 '#'      #                    (monitors: every publish reaches them)
func benchTable(tb testing.TB) (*Table, []*testClient) {
	tb.Helper()
	t := NewTable(DefaultShards, SharedRoundRobin)
	clients := make([]*testClient, 2000)
	for i := range clients {
		clients[i] = newClient(fmt.Sprint("client-", i))
	}
	id := uint32(1)
	sub := func(c *testClient, f string) {
		t.Subscribe(Sub{Client: c, Filter: f, QoS: 1, ID: id})
		id++
	}
	for i := range 6000 {
		sub(clients[i%2000], fmt.Sprintf("dev/%d/telemetry", i/3))
	}
	for i := range 2000 {
		sub(clients[(i+1)%2000], fmt.Sprintf("dev/%d/+", i))
	}
	for i := range 1000 {
		sub(clients[(i+2)%2000], fmt.Sprintf("+/%d/cmd", i))
	}
	for i := range 590 {
		sub(clients[(i+3)%2000], fmt.Sprintf("site/%d/#", i))
	}
	for i := range 400 {
		sub(clients[(i+4)%2000], fmt.Sprintf("$share/g%d/jobs/%d/+", i%20, i%20))
	}
	for i := range 10 {
		sub(clients[i*7], "#")
	}
	if t.Count() != 10000 {
		tb.Fatalf("bench table has %d subscriptions", t.Count())
	}
	return t, clients
}

// BenchmarkMatchExact publishes on exact device topics: three exact filters,
// one dev/{n}/+ and the ten '#' monitors match.
func BenchmarkMatchExact(b *testing.B) {
	t, _ := benchTable(b)
	topics := make([][]byte, 64)
	for i := range topics {
		topics[i] = fmt.Appendf(nil, "dev/%d/telemetry", i*31)
	}
	var r Result
	b.ReportAllocs()
	b.SetBytes(int64(len(topics[0])))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t.Match(topics[i&63], nil, &r)
	}
	b.ReportMetric(float64(len(r.Deliveries)), "deliveries")
}

// BenchmarkMatchWildcard publishes on topics reached through wildcards in both
// shards: +/{n}/cmd, dev/{n}/+, site/{n}/#, a shared group, and '#'.
func BenchmarkMatchWildcard(b *testing.B) {
	t, _ := benchTable(b)
	topics := make([][]byte, 64)
	for i := range topics {
		switch i % 3 {
		case 0:
			topics[i] = fmt.Appendf(nil, "dev/%d/cmd", i*13)
		case 1:
			topics[i] = fmt.Appendf(nil, "site/%d/floor/3/temp", i*7)
		default:
			topics[i] = fmt.Appendf(nil, "jobs/%d/run", i%20)
		}
	}
	var r Result
	b.ReportAllocs()
	b.SetBytes(int64(len(topics[0])))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t.Match(topics[i&63], nil, &r)
	}
}

// BenchmarkMatchParallel matches from all Ps at once, one Result per goroutine
// as one per event loop, over both kinds of topics.
func BenchmarkMatchParallel(b *testing.B) {
	t, _ := benchTable(b)
	topics := make([][]byte, 64)
	for i := range topics {
		if i%2 == 0 {
			topics[i] = fmt.Appendf(nil, "dev/%d/telemetry", i*31)
		} else {
			topics[i] = fmt.Appendf(nil, "site/%d/floor/3/temp", i*7)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(topics[0])))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var r Result
		i := 0
		for pb.Next() {
			t.Match(topics[i&63], nil, &r)
			i++
		}
	})
}

// BenchmarkMatchFanout publishes to one filter with 5,000 subscribers, past the
// merge's switch to its map.
func BenchmarkMatchFanout(b *testing.B) {
	t := NewTable(DefaultShards, SharedRoundRobin)
	for i := range 5000 {
		t.Subscribe(Sub{Client: newClient(fmt.Sprint(i)), Filter: "broadcast/all", ID: uint32(i + 1)})
	}
	topic := []byte("broadcast/all")
	var r Result
	b.ReportAllocs()
	b.SetBytes(int64(len(topic)))
	for b.Loop() {
		t.Match(topic, nil, &r)
	}
}

// BenchmarkSubscribe measures Subscribe into the 10k table: "new" adds a filter
// (and its trie nodes) and removes it again; "replace" resubscribes an
// existing subscription with new options.
func BenchmarkSubscribe(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		t, clients := benchTable(b)
		filters := make([]string, 4096)
		for i := range filters {
			filters[i] = fmt.Sprintf("new/%d/+/x", i)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(filters[0])))
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			c := clients[i%len(clients)]
			f := filters[i&4095]
			t.Subscribe(Sub{Client: c, Filter: f, QoS: 1})
			t.Unsubscribe(c, []byte(f))
		}
	})
	b.Run("replace", func(b *testing.B) {
		t, clients := benchTable(b)
		filters := make([]string, 2000)
		for i := range filters {
			filters[i] = fmt.Sprintf("dev/%d/+", i)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(filters[0])))
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			k := i % 2000
			t.Subscribe(Sub{Client: clients[(k+1)%2000], Filter: filters[k], QoS: byte(i % 3)})
		}
	})
}

func BenchmarkValidTopicName(b *testing.B) {
	topic := []byte("site/42/floor/3/room/7/temperature")
	b.ReportAllocs()
	b.SetBytes(int64(len(topic)))
	for b.Loop() {
		if !ValidTopicName(topic) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkRetainMatch(b *testing.B) {
	rt := NewRetainTree[int]()
	for i := range 10000 {
		rt.Set(fmt.Sprintf("site/%d/floor/%d/temp", i%100, i/100), i)
	}
	filter := []byte("site/42/floor/+/temp")
	b.ReportAllocs()
	b.SetBytes(int64(len(filter)))
	n := 0
	fn := func(string, int) bool { n++; return true }
	for b.Loop() {
		rt.Match(filter, fn)
	}
	if n == 0 {
		b.Fatal("no match")
	}
}
