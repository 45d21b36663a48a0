package server_test

import (
	"fmt"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestPahoPublishQoS publishes with paho at QoS 0, 1 and 2 to paho
// subscriptions at QoS 0, 1 and 2: each message arrives once, at
// min(publish QoS, subscription QoS) [MQTT-3.8.4-6 (3.1.1), 4.3].
func TestPahoPublishQoS(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	sub := pahoConnect(t, pahoOpts(srv.Addr(), "paho-sub", true))
	pub := pahoConnect(t, pahoOpts(srv.Addr(), "paho-pub", true))
	inboxes := make([]inbox, 3)
	for s := range inboxes {
		inboxes[s] = newInbox()
		pahoSubscribe(t, sub, fmt.Sprintf("qos/sub%d", s), byte(s), inboxes[s])
	}
	for p := byte(0); p <= 2; p++ {
		for s := range inboxes {
			topic := fmt.Sprintf("qos/sub%d", s)
			payload := fmt.Sprintf("published at %d", p)
			pahoPublish(t, pub, topic, p, false, payload)
			inboxes[s].expect(t, topic, payload, min(p, byte(s)))
		}
	}
	// The subscriber publishes too, to the publisher: both directions.
	back := newInbox()
	pahoSubscribe(t, pub, "qos/back", 2, back)
	for p := byte(0); p <= 2; p++ {
		pahoPublish(t, sub, "qos/back", p, false, "back")
		back.expect(t, "qos/back", "back", p)
	}
	for s, in := range inboxes {
		if len(in) != 0 {
			t.Fatalf("subscription at QoS %d got %d extra messages", s, len(in))
		}
	}
}

// TestPublishAcksRaw checks the acknowledgement flows on the wire in both
// directions: PUBACK for an inbound QoS 1 [MQTT-4.3.2-2], PUBREC then
// PUBCOMP for an inbound QoS 2 [MQTT-4.3.3-2]; outbound QoS 1 waits for our
// PUBACK, outbound QoS 2 answers our PUBREC with PUBREL [MQTT-4.3.3-4].
func TestPublishAcksRaw(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "acks-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "acks-sub", true, false)
	sub.MustSubscribe(1, 2, "acks/#")

	pub.Publish("acks/0", "zero", 0, false, 0)
	sub.ExpectMessage("acks/0", "zero", 0, false)

	pub.Publish("acks/1", "one", 1, false, 11)
	pub.ExpectAck(codec.PUBACK, 11)
	p := sub.ExpectMessage("acks/1", "one", 1, false)
	if p.PacketID == 0 || p.Dup {
		t.Fatalf("outbound QoS 1: packet id %d dup %v, want a non-zero id, no DUP", p.PacketID, p.Dup)
	}
	sub.SendAck(codec.PUBACK, p.PacketID)

	pub.Publish("acks/2", "two", 2, false, 12)
	pub.ExpectAck(codec.PUBREC, 12)
	pub.SendAck(codec.PUBREL, 12)
	pub.ExpectAck(codec.PUBCOMP, 12)
	p = sub.ExpectMessage("acks/2", "two", 2, false)
	sub.SendAck(codec.PUBREC, p.PacketID)
	sub.ExpectAck(codec.PUBREL, p.PacketID)
	sub.SendAck(codec.PUBCOMP, p.PacketID)
	sub.Ping()
	pub.Ping()
	if st := srv.Stats(); st.Acked != 2 {
		t.Fatalf("Stats().Acked = %d, want 2 (one QoS 1, one QoS 2 delivery completed)", st.Acked)
	}
}

// TestPublishQoS2ExactlyOnce sends the same QoS 2 PUBLISH twice, the second
// with DUP, before PUBREL: the subscriber receives it once [MQTT-4.3.3-2].
func TestPublishQoS2ExactlyOnce(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "once-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "once-sub", true, false)
	sub.MustSubscribe(1, 0, "once/#")

	first := codec.Publish{Topic: []byte("once/x"), Payload: []byte("exactly once"), QoS: 2, PacketID: 77}
	pub.Write(codec.AppendPublish(nil, &first, 4))
	pub.ExpectAck(codec.PUBREC, 77)
	again := first
	again.Dup = true
	pub.Write(codec.AppendPublish(nil, &again, 4))
	pub.ExpectAck(codec.PUBREC, 77)
	pub.SendAck(codec.PUBREL, 77)
	pub.ExpectAck(codec.PUBCOMP, 77)

	sub.ExpectMessage("once/x", "exactly once", 0, false)
	fenced(t, pub, sub, "once/fence")

	// After PUBCOMP the id is free: the same id is a new message.
	pub.PublishAcked("once/x", "new message", 2, false, 77)
	sub.ExpectMessage("once/x", "new message", 0, false)
}

// TestPublishPacketIDs checks the ids the broker gives its deliveries: never
// 0 [MQTT-2.3.1-1] and unique among the unacknowledged [MQTT-2.3.1-2], and
// an id is reused only after its acknowledgement.
func TestPublishPacketIDs(t *testing.T) {
	t.Parallel()
	const n = 40
	srv := servertest.Start(t, func(c *server.Config) { c.MaxInflight = n })
	pub := servertest.DialConnect(t, srv.Addr(), "ids-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "ids-sub", true, false)
	sub.MustSubscribe(1, 1, "ids/1")
	sub.MustSubscribe(2, 2, "ids/2")
	seen := make(map[uint16]string)
	for i := range n {
		topic := fmt.Sprintf("ids/%d", 1+i%2)
		pub.PublishAcked(topic, fmt.Sprint(i), byte(1+i%2), false, uint16(i+1))
		p := sub.ExpectMessage(topic, fmt.Sprint(i), byte(1+i%2), false)
		if p.PacketID == 0 {
			t.Fatalf("delivery %d has packet id 0", i)
		}
		if prev, dup := seen[p.PacketID]; dup {
			t.Fatalf("delivery %d reuses packet id %d of unacknowledged delivery %s", i, p.PacketID, prev)
		}
		seen[p.PacketID] = fmt.Sprint(i)
	}
}

// TestPublishInflightWindow checks MaxInflight: a subscriber that does not
// acknowledge gets only MaxInflight QoS 1 messages; each PUBACK lets one
// more through, in order.
func TestPublishInflightWindow(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxInflight = 2 })
	pub := servertest.DialConnect(t, srv.Addr(), "win-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "win-sub", true, false)
	sub.MustSubscribe(1, 1, "win/q")
	sub.MustSubscribe(2, 0, "win/fence")
	for i := 1; i <= 4; i++ {
		pub.PublishAcked("win/q", fmt.Sprint(i), 1, false, uint16(i))
	}
	m1 := sub.ExpectMessage("win/q", "1", 1, false)
	m2 := sub.ExpectMessage("win/q", "2", 1, false)
	// QoS 0 is not held by the window: the fence overtakes messages 3 and 4,
	// which must still be waiting.
	fenced(t, pub, sub, "win/fence")

	sub.SendAck(codec.PUBACK, m1.PacketID)
	m3 := sub.ExpectMessage("win/q", "3", 1, false)
	fenced(t, pub, sub, "win/fence")
	sub.SendAck(codec.PUBACK, m2.PacketID)
	sub.SendAck(codec.PUBACK, m3.PacketID)
	m4 := sub.ExpectMessage("win/q", "4", 1, false)
	sub.SendAck(codec.PUBACK, m4.PacketID)
	fenced(t, pub, sub, "win/fence")
}

// TestPublishRedeliveryOnResume checks that unacknowledged deliveries are
// re-sent when a clean session 0 client reconnects: QoS 1 PUBLISH with DUP
// and the same ids; QoS 2 after PUBREC as PUBREL [MQTT-4.4.0-1].
func TestPublishRedeliveryOnResume(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "redo-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "redo-sub", false, false)
	sub.MustSubscribe(1, 2, "redo/#")

	pub.PublishAcked("redo/1", "a", 1, false, 1)
	pub.PublishAcked("redo/1", "b", 1, false, 2)
	pub.PublishAcked("redo/2", "c", 2, false, 3)
	a := sub.ExpectMessage("redo/1", "a", 1, false)
	b := sub.ExpectMessage("redo/1", "b", 1, false)
	c := sub.ExpectMessage("redo/2", "c", 2, false)
	sub.SendAck(codec.PUBREC, c.PacketID)
	sub.ExpectAck(codec.PUBREL, c.PacketID)
	sub.Close() // no PUBACK, no PUBCOMP, no DISCONNECT

	sub = servertest.DialConnect(t, srv.Addr(), "redo-sub", false, true)
	for _, want := range []*codec.Publish{a, b} {
		p := sub.ExpectMessage("redo/1", string(want.Payload), 1, false)
		if !p.Dup || p.PacketID != want.PacketID {
			t.Fatalf("re-sent %q: dup %v id %d, want dup true id %d", p.Payload, p.Dup, p.PacketID, want.PacketID)
		}
	}
	sub.ExpectAck(codec.PUBREL, c.PacketID)
	sub.SendAck(codec.PUBACK, a.PacketID)
	sub.SendAck(codec.PUBACK, b.PacketID)
	sub.SendAck(codec.PUBCOMP, c.PacketID)
	sub.Ping()

	// Everything was acknowledged: a second resume re-sends nothing.
	sub.Close()
	sub = servertest.DialConnect(t, srv.Addr(), "redo-sub", false, true)
	sub.Ping()
}
