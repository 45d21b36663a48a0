package router

import (
	"strings"
	"testing"
)

// FuzzMatch checks the table and the retained tree against the reference
// matcher for any valid (filter, topic) pair. Seeded from matchCases.
func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.filter, c.topic)
	}
	f.Add("$share/g/a/+", "a/b")
	f.Add("$queue/#", "x")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if !ValidFilter([]byte(filter)) || !ValidTopicName([]byte(topic)) {
			return
		}
		want := refMatch(filter, topic)
		tb := NewTable(3, SharedRoundRobin)
		c := newClient("c")
		tb.Subscribe(Sub{Client: c, Filter: filter})
		var r Result
		tb.Match([]byte(topic), nil, &r)
		if got := len(r.Deliveries) == 1; got != want || len(r.Deliveries) > 1 {
			t.Fatalf("table: filter %q topic %q: %d deliveries, reference says %v", filter, topic, len(r.Deliveries), want)
		}
		if !tb.Unsubscribe(c, []byte(filter)) || tb.Count() != 0 {
			t.Fatalf("unsubscribe %q failed", filter)
		}
		if _, _, shared := ParseShared([]byte(filter)); shared {
			return // the retained tree takes inner filters only
		}
		rt := NewRetainTree[int]()
		rt.Set(topic, 1)
		got := false
		rt.Match([]byte(filter), func(string, int) bool { got = true; return true })
		if got != want {
			t.Fatalf("retained: filter %q topic %q: matched %v, reference says %v", filter, topic, got, want)
		}
		if !rt.Delete(topic) || rt.Count() != 0 || rt.root.children != nil {
			t.Fatalf("retained delete of %q left %d", topic, rt.Count())
		}
	})
}

// FuzzValidFilter checks that whatever ValidFilter accepts can be stored and
// found again, and that it never panics.
func FuzzValidFilter(f *testing.F) {
	for _, s := range []string{"a/+/#", "$share/g/x", "$queue/", "#/a", "a+", strings.Repeat("/", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		ok := ValidFilter([]byte(filter))
		ParseShared([]byte(filter))
		if !ok {
			return
		}
		_, inner, _ := ParseShared([]byte(filter))
		if len(inner) == 0 {
			t.Fatalf("ValidFilter accepted %q with an empty inner filter", filter)
		}
		if strings.Contains(string(inner), "#") && !strings.HasSuffix(string(inner), "#") {
			t.Fatalf("ValidFilter accepted %q with '#' not last", filter)
		}
	})
}
