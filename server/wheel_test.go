package server

import (
	"testing"
	"time"
)

// TestWheelKeepsOneEntryPerClient: re-filing a client (CONNECT timeout, then
// keepalive) leaves one live entry; the superseded one drops itself, so a
// connected client costs one wheel slot entry, not one per filing.
func TestWheelKeepsOneEntryPerClient(t *testing.T) {
	for _, slots := range []int{wheelSlots, 4} {
		bb := newBenchBroker(t)
		l := bb.l
		start := time.Unix(1_000_000, 0)
		l.wheel.init(start, slots)
		c, _ := bb.connect(t, "ka", 4, "")
		c.keepAlive = 60
		c.lastActive = start.UnixMilli()
		l.wheel.add(c, start.Unix()+10) // the CONNECT timeout entry
		l.wheel.add(c, start.Unix()+3)  // then the keepalive entry
		count := func() (live, all int) {
			for _, s := range l.wheel.clients {
				for _, x := range s {
					if x.c == c {
						all++
						if x.due == c.wheelDue {
							live++
						}
					}
				}
			}
			return live, all
		}
		for sec := int64(1); sec <= 400; sec++ {
			c.lastActive = start.Add(time.Duration(sec) * time.Second).UnixMilli() // the client keeps talking
			l.tick(start.Add(time.Duration(sec) * time.Second))
			live, all := count()
			if live != 1 {
				t.Fatalf("%d slots, second %d: %d live wheel entries, want 1", slots, sec, live)
			}
			// Stale entries drop when their slot comes round: after one lap
			// only the live one is left.
			if sec > 10+wheelSlots && all != 1 {
				t.Fatalf("%d slots, second %d: %d wheel entries, want 1", slots, sec, all)
			}
		}
		if c.state != stateConnected {
			t.Fatalf("%d slots: an active client was closed", slots)
		}
		// Silence: closed once 1.5 x keepalive has passed.
		silentFrom := start.Add(400 * time.Second)
		for sec := int64(1); sec <= 95 && c.state == stateConnected && !c.closing; sec++ {
			l.tick(silentFrom.Add(time.Duration(sec) * time.Second))
			if c.closing && sec < 90 {
				t.Fatalf("%d slots: closed after %d s of silence, before 1.5 x 60 s", slots, sec)
			}
		}
		if !c.closing {
			t.Fatalf("%d slots: a client silent for 95 s with keepalive 60 was not closed", slots)
		}
	}
}
