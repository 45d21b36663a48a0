package server

import "time"

// wheelSlots is the timing wheel's size in seconds. Deadlines further away
// land in the slot of their second modulo the size and are simply checked
// again a lap later, so any deadline works.
const wheelSlots = 256

// wheel is one loop's timing wheel. There is no timer or goroutine per
// connection: the server's one ticker posts a tick to each loop every second,
// and the loop walks the slots that came due. Entries are lazy: activity does
// not move a client, it is re-filed at its real deadline when its slot comes.
// Clients (connect timeout, keepalive) and offline sessions (will delay,
// expiry) have their own typed slots: 8 bytes an entry instead of an
// interface's 16, which counts at a million connections. Owner only.
type wheel struct {
	clients  [][]clientEntry
	sessions [][]*session
	cur      int64 // last second processed
}

// init sizes the wheel: gnet loops use wheelSlots; a loop that serves one
// TLS/WebSocket connection uses a few slots (its entry is re-checked each
// lap), so it does not carry 12 KB of empty slots.
func (w *wheel) init(now time.Time, slots int) {
	w.cur = now.Unix()
	w.clients = make([][]clientEntry, slots)
	w.sessions = make([][]*session, slots)
}

// slot returns the slot index for Unix second at (at least the next second).
func (w *wheel) slot(at int64) int64 {
	if at <= w.cur {
		at = w.cur + 1
	}
	return at % int64(len(w.clients))
}

// add files client c to be checked at Unix second at. Filing again makes
// the earlier entry stale (it drops itself when it fires).
func (w *wheel) add(c *client, at int64) {
	if at <= w.cur {
		at = w.cur + 1
	}
	c.wheelDue = uint32(at)
	i := w.slot(at)
	w.clients[i] = append(w.clients[i], clientEntry{c, uint32(at)})
}

// clientEntry is a client filed on the wheel for second due. A client filed
// again (CONNECT timeout, then keepalive) has a newer due: the older entry is
// stale and drops itself when it fires.
type clientEntry struct {
	c   *client
	due uint32
}

// addSession files offline session s to be checked at Unix second at.
func (w *wheel) addSession(s *session, at int64) {
	i := w.slot(at)
	w.sessions[i] = append(w.sessions[i], s)
}

// advance fires every slot up to now.
func (w *wheel) advance(now time.Time, l *loop) {
	target := now.Unix()
	n := int64(len(w.clients))
	if target-w.cur > n {
		// The clock jumped (or the loop stalled): one lap visits every slot,
		// and each item compares its own deadline.
		w.cur = target - n
	}
	for w.cur < target {
		w.cur++
		i := w.cur % n
		if cs := w.clients[i]; len(cs) > 0 {
			w.clients[i] = nil
			for j, e := range cs {
				cs[j] = clientEntry{}
				c := e.c
				if e.due != c.wheelDue {
					continue // superseded by a later filing
				}
				if int64(e.due) > w.cur {
					w.clients[i] = append(w.clients[i], e) // a lap early: keep waiting
					continue
				}
				if next := c.expire(l, w.cur); next > 0 {
					w.add(c, next)
				}
			}
			if w.clients[i] == nil && cap(cs) <= 4096 {
				w.clients[i] = cs[:0] // reuse the slot's array next lap
			}
		}
		if ss := w.sessions[i]; len(ss) > 0 {
			w.sessions[i] = nil
			for j, s := range ss {
				ss[j] = nil
				if next := s.expire(l, w.cur); next > 0 {
					w.addSession(s, next)
				}
			}
		}
	}
}
