package main

import "testing"

func TestSplitCoversEverythingOnce(t *testing.T) {
	for _, total := range []int{0, 1, 7, 100, 19000, 1_000_000} {
		for _, n := range []int{1, 2, 3, 7, 51} {
			next, minC, maxC := 0, total, 0
			for k := 0; k < n; k++ {
				off, c := split(total, n, k)
				if off != next {
					t.Fatalf("split(%d,%d,%d) offset %d, want %d (contiguous)", total, n, k, off, next)
				}
				next += c
				minC, maxC = min(minC, c), max(maxC, c)
			}
			if next != total {
				t.Fatalf("split(%d,%d) covers %d", total, n, next)
			}
			if total > 0 && maxC-minC > 1 {
				t.Fatalf("split(%d,%d) uneven: %d..%d", total, n, minC, maxC)
			}
		}
	}
	if off, c := split(10, 3, 5); off != 0 || c != 0 {
		t.Fatal("out-of-range process must get nothing")
	}
}

func TestSplitParts(t *testing.T) {
	ps := splitParts(1000, 3, 4, 1001)
	var subs, pubs int
	var limit int64
	for k, p := range ps {
		if p.Index != k || p.Of != 4 {
			t.Fatalf("part %d says %d/%d", k, p.Index, p.Of)
		}
		subs += p.SubCount
		pubs += p.PubCount
		limit += p.Limit
		if p.PubCount == 0 && p.Limit != 0 {
			t.Fatalf("part %d has no publishers but a limit %d", k, p.Limit)
		}
	}
	if subs != 1000 || pubs != 3 || limit != 1001 {
		t.Fatalf("parts sum to subs %d pubs %d limit %d", subs, pubs, limit)
	}
	// 3 publishers over 4 processes, limit 1001 -> 333/334 each.
	if ps[0].Limit != 333 || ps[1].Limit != 334 || ps[2].Limit != 334 || ps[3].Limit != 0 {
		t.Fatalf("limits %d %d %d %d", ps[0].Limit, ps[1].Limit, ps[2].Limit, ps[3].Limit)
	}
}

func TestProcsFor(t *testing.T) {
	cases := []struct {
		clients int
		soft    uint64
		want    int
	}{
		{100, 1024, 1},
		{960, 1024, 1},
		{961, 1024, 2},
		{19000, 20000, 1},
		{19937, 20000, 2},
		{1_000_000, 20000, 51},
		{10, 10, 10}, // absurd limit: one client per process
	}
	for _, c := range cases {
		if got := procsFor(c.clients, c.soft); got != c.want {
			t.Errorf("procsFor(%d, %d) = %d, want %d", c.clients, c.soft, got, c.want)
		}
	}
}
