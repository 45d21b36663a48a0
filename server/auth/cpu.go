package auth

import "runtime"

// hashSlots bounds the slow CPU-bound checks (password hashes, signature
// verification) running at once to half the cores (at least one). The
// auth workers are more than the cores, since HTTP checks mostly wait;
// were they all hashing at once, the event loops would queue behind them
// for a CPU and the publishes of connected clients would wait tens of
// milliseconds (benchmarks/auth.sh measures it). With half the cores left
// free, a loop that wakes finds an idle one.
var hashSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// CPUBound runs f, a slow CPU-bound check, when a hash slot is free. Call
// it from auth workers only (it may wait), never from an event loop.
func CPUBound(f func()) {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	f()
}
