//go:build !race

package server

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/store"
)

// TestQoS0AllocationsWithStore: with the durable store on, a QoS 0 publish
// to a persistent session (clean session 0, subscribed at QoS 1) and to a
// clean one still allocates nothing and writes nothing.
func TestQoS0AllocationsWithStore(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir(), MinFree: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := DefaultConfig()
	cfg.Listen = ""
	cfg.Store = st
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The loop's tasks (the store's completions come from its writer
	// goroutine) queue here and run on the test's goroutine in drain.
	var mu sync.Mutex
	var tasks []func()
	l := newLoop(srv, func(f func()) bool { mu.Lock(); tasks = append(tasks, f); mu.Unlock(); return true })
	drain := func() {
		mu.Lock()
		ts := tasks
		tasks = nil
		mu.Unlock()
		for _, f := range ts {
			f()
			l.endTurn()
		}
	}
	bb := &benchBroker{srv: srv, l: l}
	pub, _ := bb.connect(t, "pub", codec.Version311, "")
	_, _ = bb.connect(t, "clean-sub", codec.Version311, "sensors/+/temp")

	// A persistent subscriber.
	c := &client{l: l, lastActive: time.Now().Unix()}
	c.ext().t = &discardTransport{}
	pkt := codec.AppendConnect(nil, &codec.Connect{ProtocolVersion: codec.Version311, KeepAlive: 60, ClientID: []byte("durable-sub")})
	pkt = codec.AppendSubscribe(pkt, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("sensors/#"), QoS: 1}}}, codec.Version311)
	l.now = time.Now()
	if n, closeNow := l.process(c, pkt); closeNow || n != len(pkt) || !c.sess.isDurable() {
		t.Fatalf("persistent subscriber: consumed %d of %d, close=%v, durable=%v", n, len(pkt), closeNow, c.sess.isDurable())
	}
	l.endTurn()
	for deadline := time.Now().Add(5 * time.Second); l.sbDone < l.sbSeq && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		drain()
	}
	if l.sbDone != l.sbSeq || l.sbSeq == 0 {
		t.Fatalf("the persistent session's record was not committed: %d of %d batches", l.sbDone, l.sbSeq)
	}
	before := st.Batches.Load()

	pub0 := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("sensors/42/temp"), Payload: make([]byte, 64)}, codec.Version311)
	run := func() {
		drain()
		l.now = time.Now()
		if n, closeNow := l.process(pub, pub0); n != len(pub0) || closeNow {
			t.Fatal("publish not consumed")
		}
		l.endTurn()
	}
	run()
	if got := testing.AllocsPerRun(500, run); got != 0 {
		t.Errorf("%.1f allocations per QoS 0 publish with the store on, want 0", got)
	}
	if n := st.Batches.Load() - before; n != 0 {
		t.Errorf("QoS 0 publishes submitted %d store batches, want none", n)
	}
}
