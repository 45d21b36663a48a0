package server_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// serveConnListener opens a TCP listener whose connections the broker
// drives with ServeConn (the goroutine transport of TLS and WebSocket). It
// returns the listener's address; the listener closes in t.Cleanup, which
// waits for the served connections to end.
func serveConnListener(t *testing.T, srv *server.Server) net.Addr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return // closed
			}
			wg.Add(1)
			go func() { defer wg.Done(); srv.ServeConn(nc) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		if !doneWithin(done) {
			t.Errorf("ServeConn did not return within %v of its connections closing", wait)
		}
	})
	return ln.Addr()
}

// doneWithin reports whether done is closed within wait.
func doneWithin(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// TestServeConnPaho runs paho clients over ServeConn and over gnet against
// one broker: connect, QoS 1 both ways between the two transports.
func TestServeConnPaho(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	goAddr := serveConnListener(t, srv)

	goIn, gnetIn := newInbox(), newInbox()
	goClient := pahoConnect(t, pahoOpts(goAddr, "serve-go", true))
	gnetClient := pahoConnect(t, pahoOpts(srv.Addr(), "serve-gnet", true))
	pahoSubscribe(t, goClient, "serve/go", 1, goIn)
	pahoSubscribe(t, gnetClient, "serve/gnet", 1, gnetIn)

	pahoPublish(t, gnetClient, "serve/go", 1, false, "gnet to goroutine")
	goIn.expect(t, "serve/go", "gnet to goroutine", 1)
	pahoPublish(t, goClient, "serve/gnet", 1, false, "goroutine to gnet")
	gnetIn.expect(t, "serve/gnet", "goroutine to gnet", 1)
	pahoPublish(t, goClient, "serve/go", 2, false, "to itself")
	goIn.expect(t, "serve/go", "to itself", 1)
}

// TestServeConnPipe drives a raw client over net.Pipe through ServeConn:
// CONNECT, SUBSCRIBE, QoS 1 publish and delivery, DISCONNECT.
func TestServeConnPipe(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	client, srvSide := net.Pipe()
	done := make(chan struct{})
	go func() { srv.ServeConn(srvSide); close(done) }()
	c := servertest.Wrap(t, client)
	c.MustConnect(servertest.NewConnect("pipe", true, 30), false)
	c.MustSubscribe(1, 1, "pipe/t")

	gnetPub := servertest.DialConnect(t, srv.Addr(), "pipe-pub", true, false)
	gnetPub.PublishAcked("pipe/t", "over the pipe", 1, false, 5)
	m := c.ExpectMessage("pipe/t", "over the pipe", 1, false)
	c.SendAck(codec.PUBACK, m.PacketID)
	c.Publish("pipe/t", "from the pipe", 1, false, 6)
	// Our own message and the PUBACK, in either order.
	var gotAck, gotMsg bool
	for range 2 {
		pk := c.Next()
		switch pk.Type() {
		case codec.PUBACK:
			gotAck = true
		case codec.PUBLISH:
			m := c.DecodePublish(pk)
			if string(m.Payload) != "from the pipe" {
				t.Fatalf("got %q, want our own message", m.Payload)
			}
			c.SendAck(codec.PUBACK, m.PacketID)
			gotMsg = true
		}
	}
	if !gotAck || !gotMsg {
		t.Fatalf("PUBACK %v, own message %v; want both", gotAck, gotMsg)
	}
	c.Disconnect()
	if !doneWithin(done) {
		t.Fatalf("ServeConn still running %v after DISCONNECT", wait)
	}
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 1 }, "only the gnet publisher connected")
}

// TestServeConnTakeOver moves one clean session 0 between the transports
// by take-overs: goroutine -> gnet -> goroutine, then offline (parked when
// its goroutine connection ends) and back on gnet. The subscription and
// queued messages follow every move.
func TestServeConnTakeOver(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	goAddr := serveConnListener(t, srv)
	pub := servertest.DialConnect(t, srv.Addr(), "move-pub", true, false)

	a := servertest.DialConnect(t, goAddr, "mover", false, false)
	a.MustSubscribe(1, 1, "move/t")
	pub.PublishAcked("move/t", "on goroutine", 1, false, 1)
	a.SendAck(codec.PUBACK, a.ExpectMessage("move/t", "on goroutine", 1, false).PacketID)
	a.Ping() // the PUBACK is processed before the next take-over

	b := servertest.DialConnect(t, srv.Addr(), "mover", false, true)
	a.ExpectClosed(wait)
	pub.PublishAcked("move/t", "on gnet", 1, false, 2)
	b.SendAck(codec.PUBACK, b.ExpectMessage("move/t", "on gnet", 1, false).PacketID)
	b.Ping() // the PUBACK is processed before the next take-over

	c := servertest.DialConnect(t, goAddr, "mover", false, true)
	b.ExpectClosed(wait)
	pub.PublishAcked("move/t", "back on goroutine", 1, false, 3)
	c.SendAck(codec.PUBACK, c.ExpectMessage("move/t", "back on goroutine", 1, false).PacketID)
	c.Ping() // the PUBACK is processed before the next take-over

	c.Close()
	offline(t, srv, 1)
	pub.PublishAcked("move/t", "while parked", 1, false, 4)
	d := servertest.DialConnect(t, srv.Addr(), "mover", false, true)
	d.SendAck(codec.PUBACK, d.ExpectMessage("move/t", "while parked", 1, false).PacketID)
	d.Ping()
	if n := srv.Stats().Sessions; n != 2 {
		t.Fatalf("Stats().Sessions = %d, want 2", n)
	}
}

// drainAcking reads until PINGRESP after sending PINGREQ, acknowledging every
// QoS 1 PUBLISH on the way, and returns their payloads.
func drainAcking(t *testing.T, c *servertest.Conn) []string {
	t.Helper()
	var got []string
	for _, p := range c.Fence(true) {
		got = append(got, string(p.Payload))
	}
	return got
}

// TestServeConnSessionEndKeepsMessages publishes bursts of QoS 1 messages
// to a clean session 0 client on the goroutine transport while it drops its
// connection. Every message the broker acknowledged to the publisher must
// reach the client when it returns (on gnet): none may be lost while the
// session moves off the ended connection's loop [MQTT-4.3.2, 4.4.0-1].
func TestServeConnSessionEndKeepsMessages(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "end-pub", true, false)
	const rounds, burst = 100, 20
	var pid uint16
	for r := range rounds {
		client, srvSide := net.Pipe()
		go srv.ServeConn(srvSide)
		sub := servertest.Wrap(t, client)
		if ack := sub.Connect(servertest.NewConnect("end-sub", false, 0)); ack.ReasonCode != 0 || ack.SessionPresent != (r > 0) {
			t.Fatalf("round %d: CONNACK code %d session present %v", r, ack.ReasonCode, ack.SessionPresent)
		}
		if r == 0 {
			sub.MustSubscribe(1, 1, "end/t")
		}
		drainAcking(t, sub)
		var b []byte
		for i := range burst {
			pid++
			b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("end/t"), Payload: []byte(fmt.Sprintf("%d-%d", r, i)), QoS: 1, PacketID: pid}, 4)
		}
		pub.Write(b)
		sub.Close() // while the burst is being delivered, none acknowledged
		for range burst {
			pub.Expect(codec.PUBACK)
		}

		back := servertest.DialConnect(t, srv.Addr(), "end-sub", false, true)
		got := map[string]bool{}
		for len(got) < burst {
			pk, err := back.ReadPacket(wait)
			if err != nil {
				t.Fatalf("round %d: %d of %d acknowledged messages arrived, then: %v (Stats().Dropped = %d)",
					r, len(got), burst, err, srv.Stats().Dropped)
			}
			if pk.Type() != codec.PUBLISH {
				t.Fatalf("round %d: got %v, want PUBLISH", r, pk)
			}
			m := back.DecodePublish(pk)
			got[string(m.Payload)] = true
			back.SendAck(codec.PUBACK, m.PacketID)
		}
		back.Ping()
		back.Close()
		offline(t, srv, 1)
	}
	if n := srv.Stats().Dropped; n != 0 {
		t.Fatalf("Stats().Dropped = %d, want 0", n)
	}
}
