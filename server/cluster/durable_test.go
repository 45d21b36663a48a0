package cluster

import (
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
	"github.com/cp7/cp7/server/store"
)

// A session taken over from another node is written to the new node's
// store: after the new node restarts (alone, from its store), the session's
// subscription and its undelivered QoS 1 messages are still there.
func TestTakeOverIntoDurableStore(t *testing.T) {
	base := t.TempDir()
	dataDir := filepath.Join(base, "n1-data")
	st, err := store.Open(store.Options{Dir: dataDir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n0 := startNode(t, "d0", filepath.Join(base, "d0"), nil, 1)
	n1 := startNodeServer(t, "d1", filepath.Join(base, "d1"), []string{n0.node.RouteAddr()}, 1, nil,
		func(c *server.Config) { c.Store = st })
	nodes := []*tnode{n0, n1}
	stopped := false
	t.Cleanup(func() {
		n0.stop()
		if !stopped {
			n1.stop()
			_ = st.Close()
		}
	})
	waitFor(t, 20*time.Second, "both nodes see each other", func() bool {
		return len(n0.node.Members()) == 2 && len(n1.node.Members()) == 2
	})

	old := servertest.Dial(t, n0.srv.Addr())
	old.MustConnect(servertest.NewConnect("dur", false, 0), false)
	old.MustSubscribe(1, 1, "dur/t")
	old.Disconnect() // offline on n0, messages queue there
	waitInterest(t, nodes, "dur/t")
	pub := dial(t, n1, "dur-pub", true)
	for i := 1; i <= 3; i++ {
		pub.PublishAcked("dur/t", "m"+strconv.Itoa(i), 1, false, uint16(i))
	}
	waitFor(t, 10*time.Second, "three messages queued on d0", func() bool { return n0.srv.Metrics().Queued == 3 })

	// The client comes back through n1 and reads nothing; then n1 restarts.
	nw := servertest.Dial(t, n1.srv.Addr())
	nw.MustConnect(servertest.NewConnect("dur", false, 0), true)
	first := nw.ExpectMessage("dur/t", "m1", 1, false) // the session came along; leave it unacknowledged
	_ = first
	pub.Disconnect()
	nw.Close()
	waitFor(t, 10*time.Second, "the session offline on d1", func() bool { return n1.srv.Stats().Connections == 0 })
	n1.stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	stopped = true

	st2, err := store.Open(store.Options{Dir: dataDir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := servertest.TestConfig()
	cfg.Store = st2
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(); _ = st2.Close() })
	back := servertest.Dial(t, srv.Addr())
	back.MustConnect(servertest.NewConnect("dur", false, 0), true) // session present after the restart
	for i := 1; i <= 3; i++ {
		p := back.ExpectMessage("dur/t", "m"+strconv.Itoa(i), 1, false)
		back.SendAck(codec.PUBACK, p.PacketID)
	}
	// The subscription survived too.
	p2 := servertest.Dial(t, srv.Addr())
	p2.MustConnect(servertest.NewConnect("dur-pub2", true, 0), false)
	p2.PublishAcked("dur/t", "after", 1, false, 1)
	p := back.ExpectMessage("dur/t", "after", 1, false)
	back.SendAck(codec.PUBACK, p.PacketID)
}
