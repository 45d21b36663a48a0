package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestTakeOverPaho checks a client id take-over with paho [MQTT-3.1.4-2]:
// the first client's connection is lost, and with clean session 0 the second
// continues the session: session present 1, subscriptions kept.
func TestTakeOverPaho(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)

	lost := make(chan error, 1)
	first := newInbox()
	opts := pahoOpts(srv.Addr(), "paho-dup", false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	a := pahoConnect(t, opts)
	pahoSubscribe(t, a, "takeover/paho", 1, first)

	second := newInbox()
	bOpts := pahoOpts(srv.Addr(), "paho-dup", false).SetDefaultPublishHandler(second.handler)
	b := mqtt.NewClient(bOpts)
	tok := b.Connect()
	waitToken(t, tok, "second connect")
	t.Cleanup(func() { b.Disconnect(0) })
	if !tok.(*mqtt.ConnectToken).SessionPresent() {
		t.Fatalf("take-over with clean session 0: session present 0, want 1")
	}
	select {
	case err := <-lost:
		t.Logf("first client lost its connection: %v", err)
	case <-time.After(wait):
		t.Fatalf("the first client's connection-lost handler did not fire within %v", wait)
	}

	// The subscription made by the first connection now delivers to the
	// second, which never subscribed.
	pub := pahoConnect(t, pahoOpts(srv.Addr(), "paho-dup-pub", true))
	pahoPublish(t, pub, "takeover/paho", 1, false, "after take-over")
	second.expect(t, "takeover/paho", "after take-over", 1)
	select {
	case m := <-first:
		t.Fatalf("the taken-over client received %q", m.Payload())
	default:
	}
}

// TestTakeOverRaw checks take-over on raw sockets: the old connection sees
// EOF with no packet (3.1.1 has no DISCONNECT from the server), clean
// session 0 resumes, clean session 1 starts afresh [MQTT-3.1.2-6].
func TestTakeOverRaw(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "raw-pub", true, false)

	a := servertest.DialConnect(t, srv.Addr(), "raw-dup", false, false)
	a.MustSubscribe(1, 1, "takeover/raw")

	b := servertest.DialConnect(t, srv.Addr(), "raw-dup", false, true)
	if got := a.ExpectClosed(wait); len(got) > 0 {
		t.Fatalf("the taken-over 3.1.1 connection got packets: %v", got)
	}
	pub.PublishAcked("takeover/raw", "to b", 1, false, 1)
	p := b.ExpectMessage("takeover/raw", "to b", 1, false)
	b.SendAck(codec.PUBACK, p.PacketID)
	b.Ping()

	// A clean session take-over drops the subscription.
	c := servertest.DialConnect(t, srv.Addr(), "raw-dup", true, false)
	b.ExpectClosed(wait)
	c.MustSubscribe(1, 0, "takeover/fence")
	pub.PublishAcked("takeover/raw", "to nobody", 1, false, 2)
	fenced(t, pub, c, "takeover/fence")
	if n := srv.Stats().Sessions; n != 2 {
		t.Fatalf("%d sessions, want 2 (raw-pub and raw-dup)", n)
	}
}

// TestTakeOverAcrossLoops runs take-overs on a broker with two event loops,
// with enough connections that most take-overs move a session from one loop
// to the other, and checks that deliveries follow the session each time.
func TestTakeOverAcrossLoops(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.EventLoops = 2 })
	const clients, rounds = 12, 3
	pub := servertest.DialConnect(t, srv.Addr(), "loops-pub", true, false)
	conns := make([]*servertest.Conn, clients)
	for i := range conns {
		conns[i] = servertest.DialConnect(t, srv.Addr(), fmt.Sprintf("loops-%d", i), false, false)
		conns[i].MustSubscribe(1, 1, fmt.Sprintf("loops/%d", i))
	}
	var pid uint16
	for r := range rounds {
		for i := range conns {
			old := conns[i]
			conns[i] = servertest.DialConnect(t, srv.Addr(), fmt.Sprintf("loops-%d", i), false, true)
			old.ExpectClosed(wait)
		}
		for i, c := range conns {
			pid++
			topic, payload := fmt.Sprintf("loops/%d", i), fmt.Sprintf("round %d", r)
			pub.PublishAcked(topic, payload, 1, false, pid)
			p := c.ExpectMessage(topic, payload, 1, false)
			c.SendAck(codec.PUBACK, p.PacketID)
			c.Ping() // the PUBACK is processed before the next take-over
		}
	}
	servertest.Eventually(t, wait, func() bool {
		st := srv.Stats()
		return st.Connections == clients+1 && st.Sessions == clients+1
	}, fmt.Sprintf("%d connections and %d sessions", clients+1, clients+1))
}

// TestTakeOverDuringBurst takes a clean session 0 over while a burst of QoS 1
// messages is being delivered to it, on a broker with two event loops. Every
// message acknowledged to the publisher must reach the new connection, as a
// re-sent or a queued delivery [MQTT-4.4.0-1].
func TestTakeOverDuringBurst(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.EventLoops = 2 })
	pub := servertest.DialConnect(t, srv.Addr(), "burst-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "burst-sub", false, false)
	sub.MustSubscribe(1, 1, "burst/t")
	const rounds, burst = 30, 20
	var pid uint16
	for r := range rounds {
		var b []byte
		for i := range burst {
			pid++
			b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("burst/t"), Payload: []byte(fmt.Sprintf("%d-%d", r, i)), QoS: 1, PacketID: pid}, 4)
		}
		pub.Write(b)
		next := servertest.DialConnect(t, srv.Addr(), "burst-sub", false, true)
		for range burst {
			pub.Expect(codec.PUBACK)
		}
		sub.Closed(wait)
		sub = next
		got := map[string]bool{}
		for len(got) < burst {
			pk, err := sub.ReadPacket(wait)
			if err != nil {
				t.Fatalf("round %d: %d of %d acknowledged messages arrived, then: %v (Stats().Dropped = %d)",
					r, len(got), burst, err, srv.Stats().Dropped)
			}
			m := sub.DecodePublish(pk)
			if !strings.HasPrefix(string(m.Payload), fmt.Sprintf("%d-", r)) {
				t.Fatalf("round %d: got %q from another round", r, m.Payload)
			}
			got[string(m.Payload)] = true
			sub.SendAck(codec.PUBACK, m.PacketID)
		}
		sub.Ping()
	}
}
