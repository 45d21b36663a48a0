package main

import (
	"math/bits"
	"sync/atomic"
)

// Histogram is a log-linear (HDR-style) histogram of non-negative integer
// values, here latencies in nanoseconds.
//
// Values below 2^histSubBits are counted exactly. Above that every power of
// two is cut into 2^(histSubBits-1) equal buckets, so a bucket's width is at
// most 1/2^(histSubBits-1) of its lower bound: with histSubBits = 8 the
// relative error of any reported percentile is under 0.8 %. Values above
// histMax are counted in the last bucket (and Max still reports them).
//
// Record may be called from any goroutine: buckets are atomic counters, so one
// histogram per process serves every subscriber without a lock.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	histSubBits = 8
	histHalf    = 1 << (histSubBits - 1) // buckets per power of two above the exact range
	histMaxBits = 41                     // 2^41 ns is about 36 minutes
	histMax     = 1<<histMaxBits - 1
	// The bucket of histMax is (histMaxBits-histSubBits)*histHalf + 2*histHalf - 1.
	histBuckets = (histMaxBits - histSubBits + 2) * histHalf
)

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	if v > histMax {
		v = histMax
	}
	m := bits.Len64(v)
	if m <= histSubBits {
		return int(v)
	}
	shift := m - histSubBits
	top := v >> uint(shift) // in [histHalf, 2*histHalf)
	return shift*histHalf + int(top)
}

// histLow returns the smallest value that falls in bucket i; histWidth how
// many consecutive values share it.
func histLow(i int) uint64 {
	if i < 2*histHalf {
		return uint64(i)
	}
	shift := i/histHalf - 1
	top := uint64(i - shift*histHalf)
	return top << uint(shift)
}

func histWidth(i int) uint64 {
	if i < 2*histHalf {
		return 1
	}
	return 1 << uint(i/histHalf-1)
}

// Record adds one value.
func (h *Histogram) Record(v uint64) {
	h.counts[histIndex(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	h.raiseMax(v)
}

func (h *Histogram) raiseMax(v uint64) {
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest value recorded (exact, not bucketed).
func (h *Histogram) Max() uint64 { return h.max.Load() }

// Mean returns the arithmetic mean, 0 when empty.
func (h *Histogram) Mean() float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value at quantile q (0 < q <= 1): the highest value
// equivalent to the bucket holding the ceil(q*count)-th smallest value,
// capped at Max. It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) uint64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	if q > 1 {
		q = 1
	}
	rank := uint64(q * float64(n))
	if float64(rank) < q*float64(n) {
		rank++ // ceil
	}
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := histLow(i) + histWidth(i) - 1
			if m := h.max.Load(); v > m {
				v = m
			}
			return v
		}
	}
	return h.max.Load()
}

// Merge adds every count of o into h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	h.raiseMax(o.max.Load())
}

// histWire is the sparse form a child process sends to its parent.
type histWire struct {
	Buckets [][2]uint64 `json:"b"` // {index, count}, non-zero buckets only
	Sum     uint64      `json:"s"`
	Max     uint64      `json:"m"`
}

func (h *Histogram) wire() histWire {
	w := histWire{Sum: h.sum.Load(), Max: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return w
}

// mergeWire adds a sparse histogram; indexes out of range are ignored.
func (h *Histogram) mergeWire(w histWire) {
	for _, b := range w.Buckets {
		if b[0] < histBuckets {
			h.counts[b[0]].Add(b[1])
			h.total.Add(b[1])
		}
	}
	h.sum.Add(w.Sum)
	h.raiseMax(w.Max)
}
