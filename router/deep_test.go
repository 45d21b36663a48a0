package router

import (
	"strings"
	"testing"
)

// TestRetainedDeepTopicPrunes: a topic of 32,000 levels is stored and
// removed, and the removal prunes every level (it once walked the topic from
// its start for each level: 4.8 s under the write lock).
func TestRetainedDeepTopicPrunes(t *testing.T) {
	topic := strings.TrimSuffix(strings.Repeat("a/", 32000), "/")
	rt := NewRetainTree[string]()
	rt.Set("keep/x", "k")
	rt.Set(topic, "deep")
	if old, had := rt.Replace(topic, "deeper"); !had || old != "deep" {
		t.Fatalf("Replace returned %q, %v", old, had)
	}
	if old, ok := rt.Remove(topic); !ok || old != "deeper" {
		t.Fatalf("Remove returned %q, %v", old, ok)
	}
	if rt.Count() != 1 || len(rt.root.children) != 1 || rt.root.children["a"] != nil {
		t.Fatalf("after Remove: count %d, root children %d", rt.Count(), len(rt.root.children))
	}
}

// BenchmarkRetainedDeepSetRemove is linear in the depth: compare ns/op at
// 1,000 and 8,000 levels (8x, not 64x).
func BenchmarkRetainedDeepSetRemove(b *testing.B) {
	for _, depth := range []int{1000, 8000} {
		topic := strings.TrimSuffix(strings.Repeat("a/", depth), "/")
		b.Run(strings.Repeat("L", 1)+itoa(depth), func(b *testing.B) {
			rt := NewRetainTree[int]()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rt.Set(topic, i)
				rt.Remove(topic)
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
