package router

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentMatchAndSubscribe runs matchers against subscribers and
// unsubscribers. Under -race it checks the locking; in any build it checks
// that permanent subscriptions are always matched, that shared groups always
// give exactly one delivery, and that the count returns to the permanent ones.
// Loops are bounded by both an iteration count and a deadline.
func TestConcurrentMatchAndSubscribe(t *testing.T) {
	const (
		matchers   = 3
		mutators   = 2
		iterations = 4000
	)
	deadline := time.Now().Add(3 * time.Second)
	tb := NewTable(4, SharedRoundRobin)
	p1, p2, g1, g2 := newClient("p1"), newClient("p2"), newClient("g1"), newClient("g2")
	tb.Subscribe(Sub{Client: p1, Filter: "perm/#", QoS: 1, ID: 1})
	tb.Subscribe(Sub{Client: p2, Filter: "+/x", QoS: 2})
	tb.Subscribe(Sub{Client: g1, Filter: "$share/pg/perm/x"})
	tb.Subscribe(Sub{Client: g2, Filter: "$share/pg/perm/x"})
	const permanent = 4

	churnFilters := []string{"perm/x", "perm/+", "#", "+/x", "perm/#", "$share/pg/perm/x", "$share/cg/perm/#", "$queue/+/x", "other/y"}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var matched atomic.Int64
	for m := range matchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r Result
			for i := 0; i < iterations && !stop.Load() && time.Now().Before(deadline); i++ {
				tb.Match([]byte("perm/x"), nil, &r)
				perm, pg := 0, 0
				seen := map[Subscriber]bool{}
				for _, d := range r.Deliveries {
					if d.Shared {
						if d.Group == "pg" {
							pg++
						}
						continue
					}
					if seen[d.Client] {
						t.Errorf("matcher %d: client %s delivered twice", m, d.Client.ClientID())
						stop.Store(true)
					}
					seen[d.Client] = true
					if d.Client == Subscriber(p1) || d.Client == Subscriber(p2) {
						perm++
					}
				}
				if perm != 2 || pg != 1 {
					t.Errorf("matcher %d: %d permanent deliveries and %d for group pg, want 2 and 1: %+v", m, perm, pg, r.Deliveries)
					stop.Store(true)
				}
				if i%64 == 0 {
					if d, ok := tb.PickShared("pg", "perm/x", g1); !ok || d.Client == Subscriber(g1) {
						t.Errorf("PickShared: %+v %v", d, ok)
						stop.Store(true)
					}
				}
				matched.Add(1)
			}
		}()
	}
	for m := range mutators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients := make([]*testClient, 8)
			for i := range clients {
				clients[i] = newClient(fmt.Sprintf("churn-%d-%d", m, i))
			}
			for i := 0; i < iterations && !stop.Load() && time.Now().Before(deadline); i++ {
				c := clients[i%len(clients)]
				f := churnFilters[i%len(churnFilters)]
				tb.Subscribe(Sub{Client: c, Filter: f, QoS: byte(i % 3), ID: uint32(i)})
				if i%3 != 0 {
					tb.Unsubscribe(c, []byte(f))
				}
			}
			for _, c := range clients {
				tb.UnsubscribeAll(c, churnFilters)
			}
		}()
	}
	wg.Wait()
	if matched.Load() == 0 {
		t.Fatal("no Match ran")
	}
	if tb.Count() != permanent {
		t.Fatalf("Count = %d after the churn clients left, want %d", tb.Count(), permanent)
	}
	t.Logf("%d matches", matched.Load())
}

func TestConcurrentRetain(t *testing.T) {
	const iterations = 3000
	deadline := time.Now().Add(3 * time.Second)
	rt := NewRetainTree[int]()
	rt.Set("keep/x", 1)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iterations && time.Now().Before(deadline); i++ {
				topic := fmt.Sprintf("keep/%d/%d", w, i%10)
				rt.Set(topic, i)
				if i%2 == 0 {
					rt.Delete(topic)
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iterations && time.Now().Before(deadline); i++ {
				found := false
				rt.Match([]byte("keep/#"), func(topic string, _ int) bool {
					found = found || topic == "keep/x"
					return true
				})
				if !found {
					t.Error("keep/x missing from a concurrent Match")
					return
				}
				if _, ok := rt.Get("keep/x"); !ok {
					t.Error("keep/x missing from a concurrent Get")
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	rt.Range(func(string, int) bool { n++; return true })
	if n != rt.Count() {
		t.Fatalf("Range saw %d, Count says %d", n, rt.Count())
	}
}
