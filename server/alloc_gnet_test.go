//go:build !race

package server_test

import (
	"io"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestGnetQoS0PublishAllocs: a QoS 0 publish through the real gnet path
// (read by gnet, parsed, routed, written with send(2) at the end of the
// turn, metrics counted) allocates nothing in steady state. The count is
// the whole process's, so the test's own socket reads and writes are
// included (they allocate nothing either). Publisher and subscriber share
// one loop: a hand-over to another loop with one message per turn measured
// 4 allocations (the task posted to the other gnet loop, paid per batch, so
// it vanishes per message under load; BenchmarkPublishQoS0 covers routing).
func TestGnetQoS0PublishAllocs(t *testing.T) {
	for _, loops := range []int{1} {
		srv := servertest.StartSilent(t, func(c *server.Config) { c.EventLoops = loops })
		sub := servertest.DialConnect(t, srv.Addr(), "sub", true, false)
		sub.MustSubscribe(1, 0, "a/b")
		pub := servertest.DialConnect(t, srv.Addr(), "pub", true, false)
		pkt := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("a/b"), Payload: []byte("0123456789abcdef")}, codec.Version311)
		in := make([]byte, len(pkt))
		pubc, subc := pub.NetConn(), sub.NetConn()
		round := func() {
			if _, err := pubc.Write(pkt); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(subc, in); err != nil {
				t.Fatal(err)
			}
		}
		for range 200 {
			round() // warm pools, spares and gnet's buffers
		}
		if got := testing.AllocsPerRun(2000, round); got != 0 {
			t.Errorf("%d loop(s): %.2f allocations per QoS 0 publish through gnet, want 0", loops, got)
		}
		if m := srv.Metrics(); m.MessagesOut[0] < 2200 {
			t.Errorf("%d loop(s): %d QoS 0 messages sent, want at least 2200", loops, m.MessagesOut[0])
		}
		pub.Close()
		sub.Close()
	}
}
