package server

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestRegistryTable drives the open-addressing registry against a Go map
// through random inserts and removals, including growth and shrinking.
func TestRegistryTable(t *testing.T) {
	var r registry
	ref := map[string]*session{}
	rng := rand.New(rand.NewSource(1))
	for step := range 20000 {
		id := fmt.Sprintf("client-%d", rng.Intn(3000))
		if rng.Intn(3) == 0 {
			if s := ref[id]; s != nil {
				r.remove(s)
				delete(ref, id)
			}
		} else {
			s, created := r.getOrCreate(id, nil)
			if want := ref[id]; (want == nil) != created || (want != nil && want != s) {
				t.Fatalf("step %d: getOrCreate(%q) = %p created=%v, map has %p", step, id, s, created, want)
			}
			ref[id] = s
		}
		if step%997 == 0 {
			for id, s := range ref {
				if got := r.get(id); got != s {
					t.Fatalf("step %d: get(%q) = %p, want %p", step, id, got, s)
				}
			}
		}
	}
	if got := r.count.Load(); got != int64(len(ref)) {
		t.Fatalf("count %d, want %d", got, len(ref))
	}
	n := 0
	r.each(func(*session) { n++ })
	if n != len(ref) {
		t.Fatalf("each visited %d sessions, want %d", n, len(ref))
	}
	// A stale session (replaced meanwhile) is not removed by remove.
	s, _ := r.getOrCreate("x", nil)
	r.remove(s)
	s2, _ := r.getOrCreate("x", nil)
	r.remove(s)
	if r.get("x") != s2 {
		t.Fatal("remove of a stale session dropped its successor")
	}
}
