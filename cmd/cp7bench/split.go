package main

import (
	"fmt"
	"syscall"
)

// split returns the slice [offset, offset+count) of total items that process
// k of n owns: contiguous, sizes differing by at most one, earlier processes
// taking the remainder.
func split(total, n, k int) (offset, count int) {
	if n <= 0 || k < 0 || k >= n || total <= 0 {
		return 0, 0
	}
	base, rem := total/n, total%n
	offset = k*base + min(k, rem)
	count = base
	if k < rem {
		count++
	}
	return offset, count
}

// part is what one process runs: global index ranges of its subscribers and
// publishers (conn mode uses the subscriber range for its idle clients).
type part struct {
	Index, Of        int
	SubOff, SubCount int
	PubOff, PubCount int
	Limit            int64 // this process's share of -L, 0 for none
}

// splitParts cuts subs, pubs and the message limit over n processes. The
// limit is shared in proportion to publishers, so every publisher of the run
// gets about the same number of messages.
func splitParts(subs, pubs, n int, limit int64) []part {
	ps := make([]part, n)
	var given int64
	for k := range ps {
		p := &ps[k]
		p.Index, p.Of = k, n
		p.SubOff, p.SubCount = split(subs, n, k)
		p.PubOff, p.PubCount = split(pubs, n, k)
		if limit > 0 && pubs > 0 {
			// Cumulative rounding: the shares add up to limit exactly.
			end := limit * int64(p.PubOff+p.PubCount) / int64(pubs)
			p.Limit = end - given
			given = end
		}
	}
	return ps
}

// fdReserve is the files a cp7bench process keeps for itself (stdio, pipes,
// epoll, /proc reads) besides one per connection.
const fdReserve = 64

// nofile returns this process's RLIMIT_NOFILE after raising the soft limit to
// the hard one where it was lower (Go's runtime already does that at start on
// Linux; doing it again costs nothing and is explicit).
func nofile() (soft, hard uint64, err error) {
	var rl syscall.Rlimit
	if err = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("cp7bench: cannot read RLIMIT_NOFILE: %v", err)
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			rl = raised
		}
	}
	return rl.Cur, rl.Max, nil
}

// procsFor returns how many processes clients connections need when each
// process may open soft files.
func procsFor(clients int, soft uint64) int {
	per := int(soft) - fdReserve
	if per < 1 {
		per = 1
	}
	if clients <= per {
		return 1
	}
	return (clients + per - 1) / per
}
