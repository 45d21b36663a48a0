package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Every value must land in a bucket whose range holds it, and buckets must
// tile the value axis without gaps or overlaps.
func TestHistBucketsTile(t *testing.T) {
	prevEnd := uint64(0)
	for i := 0; i < histBuckets; i++ {
		lo, w := histLow(i), histWidth(i)
		if lo != prevEnd {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevEnd)
		}
		if histIndex(lo) != i || histIndex(lo+w-1) != i {
			t.Fatalf("bucket %d [%d,%d) does not map back: %d %d", i, lo, lo+w, histIndex(lo), histIndex(lo+w-1))
		}
		prevEnd = lo + w
	}
	if prevEnd != histMax+1 {
		t.Fatalf("buckets end at %d, want histMax+1 = %d", prevEnd, uint64(histMax)+1)
	}
	if histIndex(math.MaxUint64) != histBuckets-1 {
		t.Fatalf("values above histMax must go to the last bucket")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Uint64N(histMax)
		i := histIndex(v)
		if lo := histLow(i); v < lo || v >= lo+histWidth(i) {
			t.Fatalf("value %d in bucket %d [%d,%d)", v, i, lo, lo+histWidth(i))
		}
		// Relative precision: width at most lo/128.
		if v >= 2*histHalf && float64(histWidth(i)) > float64(histLow(i))/histHalf {
			t.Fatalf("bucket %d too wide: width %d at %d", i, histWidth(i), histLow(i))
		}
	}
}

func TestHistExactBelow256(t *testing.T) {
	var h Histogram
	for v := uint64(1); v <= 200; v++ {
		h.Record(v)
	}
	for _, c := range []struct {
		q    float64
		want uint64
	}{{0.5, 100}, {0.9, 180}, {0.99, 198}, {1, 200}, {0.001, 1}} {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %d, want %d", c.q, got, c.want)
		}
	}
	if h.Count() != 200 || h.Max() != 200 || h.Mean() != 100.5 {
		t.Errorf("count %d max %d mean %v, want 200 200 100.5", h.Count(), h.Max(), h.Mean())
	}
}

// within checks got against want to the histogram's relative precision.
func within(t *testing.T, name string, got, want uint64) {
	t.Helper()
	if rel := math.Abs(float64(got)-float64(want)) / float64(want); rel > 1.0/histHalf {
		t.Errorf("%s = %d, want %d within %.2f%% (off by %.3f%%)", name, got, want, 100.0/histHalf, 100*rel)
	}
}

func TestHistUniform(t *testing.T) {
	var h Histogram
	// 1..1,000,000 ns once each: the q-quantile is q*1e6.
	for v := uint64(1); v <= 1_000_000; v++ {
		h.Record(v)
	}
	within(t, "p50", h.Quantile(0.50), 500_000)
	within(t, "p90", h.Quantile(0.90), 900_000)
	within(t, "p99", h.Quantile(0.99), 990_000)
	if h.Quantile(1) != 1_000_000 {
		t.Errorf("p100 = %d, want the exact max 1000000", h.Quantile(1))
	}
}

func TestHistConstantAndBimodal(t *testing.T) {
	var c Histogram
	for range 1000 {
		c.Record(123_456_789)
	}
	for _, q := range []float64{0.01, 0.5, 0.99, 1} {
		if got := c.Quantile(q); got != 123_456_789 {
			// A bucket's upper end is capped at the exact max.
			t.Errorf("constant: Quantile(%v) = %d, want 123456789", q, got)
		}
	}
	// 95% at 100 us, 5% at 20 ms: p50 and p90 are 100 us, p99 is 20 ms.
	var b Histogram
	for i := range 10000 {
		if i%20 == 0 {
			b.Record(20_000_000)
		} else {
			b.Record(100_000)
		}
	}
	within(t, "bimodal p50", b.Quantile(0.5), 100_000)
	within(t, "bimodal p90", b.Quantile(0.9), 100_000)
	within(t, "bimodal p99", b.Quantile(0.99), 20_000_000)
	if b.Max() != 20_000_000 {
		t.Errorf("max %d", b.Max())
	}
}

func TestHistExponential(t *testing.T) {
	// Exponential with mean 1 ms: quantile q is -ln(1-q) ms.
	var h Histogram
	r := rand.New(rand.NewPCG(7, 7))
	const n = 400_000
	for range n {
		h.Record(uint64(r.ExpFloat64() * 1e6))
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := -math.Log(1-q) * 1e6
		got := float64(h.Quantile(q))
		// Sampling error dominates at p99 (about 2% with 400k samples).
		if rel := math.Abs(got-want) / want; rel > 0.03 {
			t.Errorf("exponential q%v = %.0f, want %.0f (off %.2f%%)", q, got, want, 100*rel)
		}
	}
}

func TestHistEmptyMergeWire(t *testing.T) {
	var a, b, c Histogram
	if a.Quantile(0.5) != 0 || a.Max() != 0 || a.Mean() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	for v := uint64(1); v <= 1000; v++ {
		a.Record(v * 1000)
		b.Record(v*1000 + 1_000_000)
	}
	c.Merge(&a)
	c.mergeWire(b.wire())
	if c.Count() != 2000 || c.Max() != 2_000_000 {
		t.Fatalf("merged count %d max %d, want 2000 2000000", c.Count(), c.Max())
	}
	within(t, "merged p50", c.Quantile(0.5), 1_000_000)
	within(t, "merged p25", c.Quantile(0.25), 500_000)
	// Out-of-range indexes from a bad child are ignored, not a panic.
	c.mergeWire(histWire{Buckets: [][2]uint64{{histBuckets + 5, 1}}})
	if c.Count() != 2000 {
		t.Fatalf("bad bucket was counted")
	}
}

func TestHistRecordAllocs(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(12345) }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}

func BenchmarkHistRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	b.SetBytes(8)
	b.RunParallel(func(pb *testing.PB) {
		v := uint64(1000)
		for pb.Next() {
			h.Record(v)
			v = v*7 + 13&0xFFFFF
		}
	})
}
