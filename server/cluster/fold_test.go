package cluster

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// With interest folding, a node holding many filters under one first level
// subscribes on the bus once for the level: messages still reach exactly
// the sessions that subscribed, once each, and the interest goes with the
// last filter.
func TestInterestFold(t *testing.T) {
	base := t.TempDir()
	fold := func(c *Config) { c.InterestFold = 2 }
	a := startNodeWith(t, "fa", filepath.Join(base, "fa"), nil, 1, fold)
	b := startNodeWith(t, "fb", filepath.Join(base, "fb"), []string{a.node.RouteAddr()}, 1, fold)
	nodes := []*tnode{a, b}
	t.Cleanup(func() { b.stop(); a.stop() })
	waitFor(t, 20*time.Second, "the two nodes see each other", func() bool {
		return len(a.node.Members()) == 2 && len(b.node.Members()) == 2
	})
	sub := dial(t, b, "fold-sub", true)
	for i := 1; i <= 5; i++ {
		sub.MustSubscribe(uint16(i), 0, "dev/"+strconv.Itoa(i))
	}
	sub.MustSubscribe(9, 0, "dev/+") // overlaps every one of them
	waitFor(t, 10*time.Second, "node fb folds dev/*", func() bool { return b.node.Status().Folded == 1 })
	waitInterest(t, nodes, "dev/1")
	// fb may have asked for dev/1 ... on their own before it folded: wait
	// until the fold, and the unsubscription of the single filters, have
	// crossed the route.
	waitFor(t, 10*time.Second, "node fa sees dev/# from fb", func() bool { return a.node.HasInterest("dev/99") })
	waitFor(t, 10*time.Second, "node fa holds one subscription matching dev/3 (fb's folded dev/#)", func() bool {
		return a.node.ns.GlobalAccount().Interest(Subject("dev/3")) == 1
	})
	pub := dial(t, a, "fold-pub", true)
	pub.Publish("dev/3", "three", 0, false, 0)
	pub.Publish("dev/x/y", "no one", 0, false, 0) // reaches fb, matches nothing there
	pub.Publish("dev/7", "plus", 0, false, 0)
	sub.ExpectMessage("dev/3", "three", 0, false)
	sub.ExpectMessage("dev/7", "plus", 0, false)
	expectNothingBeforePing(t, sub)

	for i := 1; i <= 5; i++ {
		sub.Unsubscribe(uint16(10+i), "dev/"+strconv.Itoa(i))
	}
	sub.Unsubscribe(20, "dev/+")
	waitFor(t, 10*time.Second, "the folded interest leaves fa", func() bool {
		return !a.node.HasInterest("dev/1") && b.node.Status().Folded == 0
	})
}
