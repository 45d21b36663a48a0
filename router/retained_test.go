package router

import (
	"fmt"
	"slices"
	"testing"
)

func retainedTopics(rt *RetainTree[string], filter string) []string {
	var got []string
	rt.Match([]byte(filter), func(topic string, m string) bool {
		if m != "m:"+topic {
			panic(fmt.Sprintf("topic %q holds %q", topic, m))
		}
		got = append(got, topic)
		return true
	})
	slices.Sort(got)
	return got
}

func TestRetainSetReplaceDelete(t *testing.T) {
	rt := NewRetainTree[string]()
	if _, ok := rt.Get("a"); ok {
		t.Fatal("Get on empty tree found a message")
	}
	rt.Set("a/b", "one")
	rt.Set("a/b", "two") // replace
	rt.Set("a", "parent")
	if rt.Count() != 2 {
		t.Fatalf("Count = %d, want 2", rt.Count())
	}
	if m, ok := rt.Get("a/b"); !ok || m != "two" {
		t.Fatalf("Get(a/b) = %q, %v after replace", m, ok)
	}
	if _, ok := rt.Get("a/b/c"); ok {
		t.Fatal("Get of a deeper topic found a message")
	}
	if rt.Delete("a/b/c") || rt.Delete("x") {
		t.Fatal("Delete of an absent topic reported true")
	}
	if !rt.Delete("a/b") || rt.Delete("a/b") {
		t.Fatal("Delete(a/b): want true once")
	}
	if m, ok := rt.Get("a"); !ok || m != "parent" {
		t.Fatalf("deleting a/b removed its parent's message: %q %v", m, ok)
	}
	if !rt.Delete("a") || rt.Count() != 0 {
		t.Fatalf("Count = %d after deleting all", rt.Count())
	}
	if rt.root.children != nil {
		t.Fatalf("tree not pruned after deleting all: %v", rt.root.children)
	}
	// A node that only exists as a path is not a message.
	rt.Set("p/q/r", "x")
	if _, ok := rt.Get("p/q"); ok {
		t.Fatal("Get of an intermediate level found a message")
	}
	if rt.Delete("p/q") {
		t.Fatal("Delete of an intermediate level reported true")
	}
	if m, ok := rt.Get("p/q/r"); !ok || m != "x" {
		t.Fatal("deleting an intermediate level lost the leaf")
	}
}

func TestRetainMatch(t *testing.T) {
	rt := NewRetainTree[string]()
	topics := map[string]bool{}
	for _, c := range matchCases {
		topics[c.topic] = true
	}
	for topic := range topics {
		rt.Set(topic, "m:"+topic)
	}
	filters := map[string]bool{}
	for _, c := range matchCases {
		filters[c.filter] = true
	}
	for f := range filters {
		var want []string
		for topic := range topics {
			if refMatch(f, topic) {
				want = append(want, topic)
			}
		}
		slices.Sort(want)
		if got := retainedTopics(rt, f); !slices.Equal(got, want) {
			t.Errorf("filter %q: got %q, want %q", f, got, want)
		}
	}
	// Spot checks of the rules the reference encodes.
	cases := map[string][]string{
		"a/#":    {"a", "a/", "a/$x", "a//", "a//b", "a//c", "a/b", "a/b/", "a/b/c"}, // parent level included [MQTT-4.7.1-2]
		"$SYS/#": {"$SYS", "$SYS/x"},
		"+/x":    nil,                                                      // "$SYS/x" is not matched [MQTT-4.7.2-1]
		"+/+":    {"/", "/a", "A/b", "a/", "a/$x", "a/b", "b/a", "x/$SYS"}, // not "$SYS/x"
	}
	for f, want := range cases {
		if got := retainedTopics(rt, f); !slices.Equal(got, want) {
			t.Errorf("filter %q: got %q, want %q", f, got, want)
		}
	}
	for _, topic := range retainedTopics(rt, "#") {
		if topic[0] == '$' {
			t.Errorf("'#' matched %q [MQTT-4.7.2-1]", topic)
		}
	}
}

func TestRetainMatchStops(t *testing.T) {
	rt := NewRetainTree[int]()
	for i := range 20 {
		rt.Set(fmt.Sprint("s/", i), i)
	}
	for _, f := range []string{"#", "s/#", "s/+"} {
		calls := 0
		rt.Match([]byte(f), func(string, int) bool { calls++; return calls < 3 })
		if calls != 3 {
			t.Errorf("filter %q: fn called %d times after returning false at 3", f, calls)
		}
	}
	calls := 0
	rt.Range(func(string, int) bool { calls++; return false })
	if calls != 1 {
		t.Errorf("Range called fn %d times after it returned false", calls)
	}
	seen := map[string]int{}
	rt.Range(func(topic string, m int) bool { seen[topic] = m; return true })
	if len(seen) != 20 || seen["s/7"] != 7 {
		t.Errorf("Range saw %v", seen)
	}
}
