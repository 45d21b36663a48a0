//go:build !race

package proxyproto

import "testing"

// Parse is called from the event loop on every new PROXY connection: it may
// allocate the returned addresses (one object for both) and nothing else.
func TestParseAllocs(t *testing.T) {
	for _, v := range validVectors {
		want := 0.0
		if v.src != "" {
			want = 1
		}
		got := testing.AllocsPerRun(100, func() { Parse(v.in) })
		if got != want {
			t.Errorf("%s: %v allocations per Parse, want %v", v.name, got, want)
		}
		got = testing.AllocsPerRun(100, func() { Parse(v.in[:len(v.in)-1]) })
		if got != 0 {
			t.Errorf("%s incomplete: %v allocations per Parse, want 0", v.name, got)
		}
	}
	for _, v := range badVectors {
		if got := testing.AllocsPerRun(100, func() { Parse(v.in) }); got != 0 {
			t.Errorf("%s: %v allocations per failing Parse, want 0", v.name, got)
		}
	}
}
