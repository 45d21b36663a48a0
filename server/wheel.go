package server

import "time"

// wheelSlots is the timing wheel's size in seconds. Deadlines further away
// land in the slot of their second modulo the size and are simply checked
// again a lap later, so any deadline works.
const wheelSlots = 256

// timed is something with a deadline on a loop's wheel: a client (connect
// timeout, keepalive) or an offline session (will delay, expiry).
type timed interface {
	// expire runs when the item's slot comes round. It returns the next
	// deadline in Unix seconds to stay on the wheel, or 0 to leave it.
	expire(l *loop, now int64) (next int64)
}

// wheel is one loop's timing wheel. There is no timer or goroutine per
// connection: the server's one ticker posts a tick to each loop every second,
// and the loop walks the slots that came due. Entries are lazy: activity does
// not move a client, it is re-filed at its real deadline when its slot comes.
// Owner only.
type wheel struct {
	slots [wheelSlots][]timed
	cur   int64 // last second processed
}

func (w *wheel) init(now time.Time) { w.cur = now.Unix() }

// add files t to fire at Unix second at (at least one second from now).
func (w *wheel) add(t timed, at int64) {
	if at <= w.cur {
		at = w.cur + 1
	}
	i := at % wheelSlots
	w.slots[i] = append(w.slots[i], t)
}

// advance fires every slot up to now.
func (w *wheel) advance(now time.Time, l *loop) {
	target := now.Unix()
	if target-w.cur > wheelSlots {
		// The clock jumped (or the loop stalled): one lap visits every slot,
		// and each item compares its own deadline.
		w.cur = target - wheelSlots
	}
	for w.cur < target {
		w.cur++
		i := w.cur % wheelSlots
		items := w.slots[i]
		if len(items) == 0 {
			continue
		}
		w.slots[i] = nil
		for j, it := range items {
			items[j] = nil
			if next := it.expire(l, w.cur); next > 0 {
				w.add(it, next)
			}
		}
		if w.slots[i] == nil && cap(items) <= 1024 {
			w.slots[i] = items[:0] // reuse the slot's array next lap
		}
	}
}
