package server_test

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestOrderKeptAcrossAFullSocket: a subscriber that stops reading fills its
// socket, so the broker's direct send(2) takes part of a turn's bytes and
// gnet buffers the rest; later turns must queue behind gnet's buffer, and
// direct sends resume only once gnet has written it all. Every message must
// arrive, whole and in order, when the subscriber reads again.
func TestOrderKeptAcrossAFullSocket(t *testing.T) {
	// 16 MB: more than the broker's send buffer (at most 4 MB by default)
	// and the subscriber's 64 kB receive buffer hold together.
	const n, size = 8000, 2048
	srv := servertest.Start(t, func(c *server.Config) { c.MaxOutboundBytes = 64 << 20 })

	slow := servertest.Dial(t, srv.Addr())
	if tc, ok := slow.NetConn().(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(64 << 10)
	}
	slow.MustConnect(servertest.NewConnect("slow", true, 0), false)
	slow.MustSubscribe(1, 0, "bp/data")
	fast := servertest.DialConnect(t, srv.Addr(), "fast", true, false)
	fast.MustSubscribe(1, 0, "bp/done")
	pub := servertest.DialConnect(t, srv.Addr(), "pub", true, false)

	publish := func(from, to int) []byte {
		payload := make([]byte, size)
		var b []byte
		for i := from; i < to; i++ {
			binary.BigEndian.PutUint32(payload, uint32(i))
			b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("bp/data"), Payload: payload}, codec.Version311)
		}
		return b
	}
	pub.Write(publish(0, n))
	// The broker handles one publisher's packets in order: once the marker
	// reaches the fast subscriber, every data message has been routed to
	// the slow one, and most of it waits in gnet's buffer.
	pub.Publish("bp/done", "marker", 0, false, 0)
	fast.ExpectMessage("bp/done", "marker", 0, false)

	// Now read, while the publisher goes on: new turns arrive while gnet
	// still holds bytes and the socket has room again, the moment a direct
	// send would overtake gnet's buffer.
	sent := make(chan error, 1)
	go func() {
		var err error
		for from := n; from < 2*n && err == nil; from += 100 {
			_, err = pub.NetConn().Write(publish(from, from+100))
		}
		sent <- err
	}()
	for i := range 2 * n {
		p := slow.ExpectPublish()
		if string(p.Topic) != "bp/data" || len(p.Payload) != size {
			t.Fatalf("message %d: topic %q, %d bytes", i, p.Topic, len(p.Payload))
		}
		if got := binary.BigEndian.Uint32(p.Payload); got != uint32(i) {
			t.Fatalf("message %d arrived as number %d: order lost", i, got)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("publisher: %v", err)
	}
	// And direct sends work again after gnet drained its buffer.
	pub.Publish("bp/data", "after", 0, false, 0)
	if p := slow.ExpectPublish(); string(p.Payload) != "after" {
		t.Fatalf("after the backlog: %q", p.Payload)
	}
}
