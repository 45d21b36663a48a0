package server_test

import (
	"fmt"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// offline waits until the broker has processed the end of every connection
// but want, so that what is published next finds offline sessions offline.
func offline(t *testing.T, srv *server.Server, want int64) {
	t.Helper()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == want },
		fmt.Sprintf("Stats().Connections == %d", want))
}

// TestSessionSubscriptionsSurvive checks with paho that the subscriptions
// of a clean session 0 client survive its disconnect [MQTT-3.1.2-4]: it
// reconnects without subscribing and receives.
func TestSessionSubscriptionsSurvive(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	in := newInbox()
	a := pahoConnect(t, pahoOpts(srv.Addr(), "persist-paho", false))
	pahoSubscribe(t, a, "persist/paho", 1, in)
	a.Disconnect(0)
	offline(t, srv, 0)

	b := newInbox()
	pahoConnect(t, pahoOpts(srv.Addr(), "persist-paho", false).SetDefaultPublishHandler(b.handler))
	pub := pahoConnect(t, pahoOpts(srv.Addr(), "persist-paho-pub", true))
	pahoPublish(t, pub, "persist/paho", 1, false, "still subscribed")
	b.expect(t, "persist/paho", "still subscribed", 1)
}

// TestSessionOfflineDelivery checks that QoS 1 and 2 messages published
// while a clean session 0 client is away are delivered when it returns
// [MQTT-3.1.2-5], and QoS 0 ones are not (3.1.1 allows dropping them; CP7
// does, and counts them).
func TestSessionOfflineDelivery(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "away-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "away-sub", false, false)
	sub.MustSubscribe(1, 2, "away/#")
	sub.Disconnect()
	offline(t, srv, 1)

	pub.PublishAcked("away/0", "qos0", 0, false, 0)
	pub.PublishAcked("away/1", "qos1", 1, false, 1)
	pub.PublishAcked("away/2", "qos2", 2, false, 2)
	pub.Ping()

	sub = servertest.DialConnect(t, srv.Addr(), "away-sub", false, true)
	m1 := sub.ExpectMessage("away/1", "qos1", 1, false)
	m2 := sub.ExpectMessage("away/2", "qos2", 2, false)
	sub.SendAck(codec.PUBACK, m1.PacketID)
	sub.SendAck(codec.PUBREC, m2.PacketID)
	sub.ExpectAck(codec.PUBREL, m2.PacketID)
	sub.SendAck(codec.PUBCOMP, m2.PacketID)
	sub.Ping()
	if n := srv.Stats().DroppedOffline; n != 1 {
		t.Fatalf("Stats().DroppedOffline = %d, want 1 (the QoS 0 message)", n)
	}
}

// TestSessionOfflineQueueLimit checks MaxQueued: with 3, five messages
// published while the client is away leave the three newest, and the two
// dropped are counted.
func TestSessionOfflineQueueLimit(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxQueued = 3 })
	pub := servertest.DialConnect(t, srv.Addr(), "queue-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "queue-sub", false, false)
	sub.MustSubscribe(1, 1, "queue/t")
	sub.Disconnect()
	offline(t, srv, 1)

	for i := 1; i <= 5; i++ {
		pub.PublishAcked("queue/t", fmt.Sprint(i), 1, false, uint16(i))
	}
	pub.Ping()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().DroppedQueueFull == 2 }, "Stats().DroppedQueueFull == 2")

	sub = servertest.DialConnect(t, srv.Addr(), "queue-sub", false, true)
	for i := 3; i <= 5; i++ {
		m := sub.ExpectMessage("queue/t", fmt.Sprint(i), 1, false)
		sub.SendAck(codec.PUBACK, m.PacketID)
	}
	sub.Ping()
	if n := srv.Stats().DroppedQueueFull; n != 2 {
		t.Fatalf("Stats().DroppedQueueFull = %d, want 2", n)
	}
}

// TestSessionPresent checks the CONNACK session present flag [MQTT-3.2.2-1..3]:
// 0 for a new session, 1 for a resumed one, 0 with clean session 1 (which
// also discards the stored session [MQTT-3.1.2-6]).
func TestSessionPresent(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	steps := []struct {
		clean, present bool
	}{
		{false, false}, // new
		{false, true},  // resumed
		{false, true},  // resumed again
		{true, false},  // clean: discarded
		{false, false}, // new again, since clean session 1 ended it
		{false, true},
	}
	for i, st := range steps {
		c := servertest.Dial(t, srv.Addr())
		ack := c.Connect(servertest.NewConnect("present", st.clean, 0))
		if ack.ReasonCode != 0 || ack.SessionPresent != st.present {
			t.Fatalf("step %d (clean %v): code %d session present %v, want 0 and %v", i, st.clean, ack.ReasonCode, ack.SessionPresent, st.present)
		}
		if i == 0 {
			c.MustSubscribe(1, 1, "present/t")
		}
		c.Disconnect()
		offline(t, srv, 0)
	}
	if n := srv.Stats().Subscriptions; n != 0 {
		t.Fatalf("Stats().Subscriptions = %d, want 0: clean session 1 discarded the subscription", n)
	}
}
