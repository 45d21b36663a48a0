package cluster

import (
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

// TestCluster runs the three-node cases on one cluster, so the package
// starts JetStream's three-node group once.
func TestCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	t.Run("CrossNodeQoS", func(t *testing.T) { testCrossNodeQoS(t, nodes) })
	t.Run("WildcardsAndDollar", func(t *testing.T) { testWildcardsAndDollar(t, nodes) })
	t.Run("OneCopyPerSession", func(t *testing.T) { testOneCopy(t, nodes) })
	t.Run("OrderPerPublisher", func(t *testing.T) { testOrder(t, nodes) })
	t.Run("SharedAcrossNodes", func(t *testing.T) { testShared(t, nodes) })
	t.Run("UnsubscribeDropsInterest", func(t *testing.T) { testUnsubscribe(t, nodes) })
	t.Run("TakeOverAcrossNodes", func(t *testing.T) { testTakeOver(t, nodes) })
	t.Run("ClaimRace", func(t *testing.T) { testClaimRace(t, nodes) })
	t.Run("RetainedAcrossNodesAndRestart", func(t *testing.T) { testRetained(t, nodes) })
	t.Run("StatusAPIAndMetrics", func(t *testing.T) { testStatusAPI(t, nodes) })
}

// A message published on one node at QoS 0, 1 and 2 reaches subscribers on
// the two others at min(publish QoS, subscription QoS).
func testCrossNodeQoS(t *testing.T, nodes []*tnode) {
	b := dial(t, nodes[1], "qos-b", true)
	b.MustSubscribe(1, 2, "qos/t")
	c := dial(t, nodes[2], "qos-c", true)
	c.MustSubscribe(1, 1, "qos/t")
	waitInterest(t, nodes, "qos/t")
	a := dial(t, nodes[0], "qos-a", true)
	for qos := byte(0); qos <= 2; qos++ {
		payload := "m" + strconv.Itoa(int(qos))
		a.PublishAcked("qos/t", payload, qos, false, uint16(10+qos))
		p := b.ExpectMessage("qos/t", payload, qos, false)
		switch qos {
		case 1:
			b.SendAck(codec.PUBACK, p.PacketID)
		case 2:
			b.SendAck(codec.PUBREC, p.PacketID)
			b.ExpectAck(codec.PUBREL, p.PacketID)
			b.SendAck(codec.PUBCOMP, p.PacketID)
		}
		q := c.ExpectMessage("qos/t", payload, min(qos, 1), false)
		if q.QoS == 1 {
			c.SendAck(codec.PUBACK, q.PacketID)
		}
	}
}

// '+' and '#' match across nodes as on one; '$' topics are not matched by a
// leading wildcard [MQTT-4.7.2-1], but by a filter naming them.
func testWildcardsAndDollar(t *testing.T, nodes []*tnode) {
	w := dial(t, nodes[1], "wild-b", true)
	w.MustSubscribe(1, 0, "#", "+/x")
	d := dial(t, nodes[2], "wild-c", true)
	d.MustSubscribe(1, 0, "$sys/#", "w/+/z")
	waitInterest(t, nodes, "any")
	waitInterest(t, nodes, "$sys/x")
	waitInterest(t, nodes, "w/y/z")
	a := dial(t, nodes[0], "wild-a", true)
	a.Publish("$sys/x", "dollar", 0, false, 0)
	a.Publish("w/y/z", "plus", 0, false, 0)
	a.Publish("w", "parent", 0, false, 0)
	d.ExpectMessage("$sys/x", "dollar", 0, false)
	d.ExpectMessage("w/y/z", "plus", 0, false)
	w.ExpectMessage("w/y/z", "plus", 0, false) // "#" but not the '$' one before it
	w.ExpectMessage("w", "parent", 0, false)
	expectNothingBeforePing(t, d)
}

// A session whose filters overlap gets one copy of a message from another
// node, with the highest QoS of its matching subscriptions.
func testOneCopy(t *testing.T, nodes []*tnode) {
	b := dial(t, nodes[1], "one-b", true)
	b.MustSubscribe(1, 0, "one/+", "one/#", "+/x", "one/x")
	b.MustSubscribe(2, 1, "#")
	waitInterest(t, nodes, "one/x")
	a := dial(t, nodes[0], "one-a", true)
	a.PublishAcked("one/x", "once", 1, false, 1)
	a.PublishAcked("one/end", "marker", 1, false, 2)
	p := b.ExpectMessage("one/x", "once", 1, false)
	b.SendAck(codec.PUBACK, p.PacketID)
	p = b.ExpectMessage("one/end", "marker", 1, false) // no second "once" before it
	b.SendAck(codec.PUBACK, p.PacketID)
	if d := nodes[1].node.Status().Dups; d == 0 {
		t.Errorf("node n1 dropped no duplicate bus copies; with overlapping filters NATS brings one per subscription")
	}
}

// Messages of one publisher on one topic arrive in order on another node.
func testOrder(t *testing.T, nodes []*tnode) {
	b := dial(t, nodes[2], "order-b", true)
	b.MustSubscribe(1, 0, "order/t")
	waitInterest(t, nodes, "order/t")
	a := dial(t, nodes[0], "order-a", true)
	const n = 300
	for i := range n {
		a.Publish("order/t", strconv.Itoa(i), 0, false, 0)
	}
	for i := range n {
		b.ExpectMessage("order/t", strconv.Itoa(i), 0, false)
	}
}

// A shared subscription group with members on three nodes gets each message
// once, cluster-wide.
func testShared(t *testing.T, nodes []*tnode) {
	var members []*servertest.Conn
	for i, nd := range nodes {
		c := dial(t, nd, "shared-"+strconv.Itoa(i), true)
		c.MustSubscribe(1, 0, "$share/g/sh/+")
		members = append(members, c)
		// A fence: this node's later plain subscription reaching every
		// node tells that the queue subscription before it did.
		f := dial(t, nd, "shared-fence-"+strconv.Itoa(i), true)
		f.MustSubscribe(1, 0, "shfence/"+strconv.Itoa(i))
	}
	for i := range nodes {
		waitInterest(t, nodes, "shfence/"+strconv.Itoa(i))
	}
	plain := dial(t, nodes[1], "shared-plain", true)
	plain.MustSubscribe(1, 0, "sh/#")
	waitInterest(t, nodes, "sh/x")
	pub := dial(t, nodes[0], "shared-pub", true)
	const n = 60
	for i := range n {
		pub.Publish("sh/x", strconv.Itoa(i), 0, false, 0)
	}
	for i := range n {
		plain.ExpectMessage("sh/x", strconv.Itoa(i), 0, false)
	}
	seen := make(map[string]int)
	per := make([]int, len(members))
	deadline := time.Now().Add(10 * time.Second)
	for total := 0; total < n && time.Now().Before(deadline); {
		for i, c := range members {
			for _, p := range c.Fence(false) {
				seen[string(p.Payload)]++
				per[i]++
				total++
			}
		}
	}
	for i := range n {
		if seen[strconv.Itoa(i)] != 1 {
			t.Errorf("message %d reached %d members of the group, want exactly 1 (per member %v)", i, seen[strconv.Itoa(i)], per)
		}
	}
	used := 0
	for _, k := range per {
		if k > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("all %d messages went to one node's member (per member %v): the group is not spread across nodes", n, per)
	}
	t.Logf("shared group: %v messages per member (nodes n0, n1, n2)", per)
}

// The last unsubscribe on a node takes its interest off the bus.
func testUnsubscribe(t *testing.T, nodes []*tnode) {
	b := dial(t, nodes[1], "unsub-b", true)
	c := dial(t, nodes[1], "unsub-c", true)
	b.MustSubscribe(1, 0, "un/t")
	c.MustSubscribe(1, 0, "un/t")
	waitInterest(t, nodes, "un/t")
	b.Unsubscribe(2, "un/t")
	time.Sleep(50 * time.Millisecond) // a chance to go wrong: c still holds it
	if !nodes[0].node.HasInterest("un/t") {
		t.Fatal("interest went with the first of two subscribers")
	}
	c.Unsubscribe(2, "un/t")
	waitFor(t, 10*time.Second, "interest in un/t leaves node n0", func() bool { return !nodes[0].node.HasInterest("un/t") })
}

// A retained message set on one node is delivered on subscribe on the
// others, and on a node restarted afterwards.
func testRetained(t *testing.T, nodes []*tnode) {
	for _, nd := range nodes {
		select {
		case <-nd.node.RetainedReady():
		case <-time.After(30 * time.Second):
			t.Fatalf("node %s: retained bucket not ready in 30 s", nd.name)
		}
	}
	a := dial(t, nodes[0], "ret-a", true)
	// Set and cleared first, so that two retained messages on a node can
	// only be the final state: ret/t and the marker ret/z.
	a.PublishAcked("ret/gone", "cleared", 1, true, 1)
	a.PublishAcked("ret/gone", "", 1, true, 2)
	a.PublishAcked("ret/t", "kept", 1, true, 3)
	a.PublishAcked("ret/z", "marker", 1, true, 4)
	check := func(nd *tnode, id string) {
		t.Helper()
		waitFor(t, 10*time.Second, "retained messages reach "+nd.name, func() bool {
			return nd.srv.Stats().Retained == 2
		})
		c := dial(t, nd, id, true)
		c.MustSubscribe(1, 1, "ret/#")
		got := map[string]string{}
		for _, p := range c.Fence(true) {
			if !p.Retain {
				t.Errorf("%s: %q delivered on subscribe without the retain flag", nd.name, p.Topic)
			}
			got[string(p.Topic)] = string(p.Payload)
		}
		if len(got) != 2 || got["ret/t"] != "kept" || got["ret/z"] != "marker" {
			t.Errorf("%s: retained on subscribe %v, want ret/t=kept and ret/z=marker", nd.name, got)
		}
		c.Disconnect()
	}
	for _, nd := range nodes[1:] {
		check(nd, "ret-sub-"+nd.name)
	}
	// Restart n2 with the same name and files: it reads the bucket again.
	old := nodes[2]
	old.stop()
	seeds := []string{nodes[0].node.RouteAddr(), nodes[1].node.RouteAddr()}
	re := startNode(t, old.name, filepath.Join(old.dir), seeds, 3)
	nodes[2] = re // the cluster's cleanup stops it
	select {
	case <-re.node.RetainedReady():
	case <-time.After(30 * time.Second):
		t.Fatal("restarted node: retained bucket not ready in 30 s")
	}
	check(re, "ret-after-restart")
}

// A client reconnecting on another node takes its session over: the old
// connection is closed, its will goes out once, and the session's
// subscriptions, in-flight and queued messages continue on the new node.
func testTakeOver(t *testing.T, nodes []*tnode) {
	watch := dial(t, nodes[2], "tk-watch", true)
	watch.MustSubscribe(1, 0, "tk/will")
	old := servertest.Dial(t, nodes[0].srv.Addr())
	old.MustConnect(servertest.WithWill(servertest.NewConnect("tk", false, 0), "tk/will", "gone", 0, false), false)
	old.MustSubscribe(1, 1, "tk/t")
	waitInterest(t, nodes, "tk/t")
	waitInterest(t, nodes, "tk/will")
	pub := dial(t, nodes[1], "tk-pub", true)
	for i := 1; i <= 4; i++ {
		pub.PublishAcked("tk/t", "m"+strconv.Itoa(i), 1, false, uint16(i))
	}
	// The window is 2: m1 and m2 in flight (not acknowledged), m3 and m4 queued.
	old.ExpectMessage("tk/t", "m1", 1, false)
	old.ExpectMessage("tk/t", "m2", 1, false)

	nw := servertest.Dial(t, nodes[1].srv.Addr())
	nw.MustConnect(servertest.NewConnect("tk", false, 0), true) // session present: it came along
	if !old.Closed(5 * time.Second) {
		t.Fatal("the old connection on n0 is still open after the take-over on n1")
	}
	for i := 1; i <= 4; i++ {
		p := nw.ExpectMessage("tk/t", "m"+strconv.Itoa(i), 1, false)
		if i <= 2 && !p.Dup {
			t.Errorf("m%d was in flight: re-sent with DUP expected", i)
		}
		nw.SendAck(codec.PUBACK, p.PacketID)
	}
	watch.ExpectMessage("tk/will", "gone", 0, false)
	// The subscription came along: a new publish reaches the new node.
	pub.PublishAcked("tk/t", "after", 1, false, 9)
	p := nw.ExpectMessage("tk/t", "after", 1, false)
	nw.SendAck(codec.PUBACK, p.PacketID)
	expectNothingBeforePing(t, watch) // the will went out once
	nw.Disconnect()
}

// CONNECTs for one client id on three nodes at once end with one
// connection.
func testClaimRace(t *testing.T, nodes []*tnode) {
	for round := range 2 {
		conns := make([]*servertest.Conn, len(nodes))
		for i, nd := range nodes {
			conns[i] = servertest.Dial(t, nd.srv.Addr())
		}
		id := "race-" + strconv.Itoa(round)
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Write(codec.AppendConnect(nil, servertest.NewConnect(id, true, 0)))
			}()
		}
		wg.Wait()
		open := 0
		for _, c := range conns {
			if !c.Closed(2 * time.Second) { // the losers close in milliseconds
				open++
			}
		}
		if open != 1 {
			t.Fatalf("round %d: %d connections for client id %s stay open on %d nodes, want 1", round, open, id, len(nodes))
		}
	}
}
