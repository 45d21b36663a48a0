package server_test

import (
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestSubscribeGrantedQoS checks SUBACK: one code per filter in order
// [MQTT-3.8.4-5], granted QoS = min(requested, MaxQoS) [MQTT-3.8.4-6], 0x80
// for an invalid filter [MQTT-3.9.3], and that a delivery uses the granted
// QoS.
func TestSubscribeGrantedQoS(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxQoS = 1 })
	sub := servertest.DialConnect(t, srv.Addr(), "granted-sub", true, false)
	p := codec.Subscribe{PacketID: 9, Subs: []codec.Subscription{
		{Filter: []byte("g/0"), QoS: 0},
		{Filter: []byte("g/1"), QoS: 1},
		{Filter: []byte("g/2"), QoS: 2},
		{Filter: []byte("g/#/bad"), QoS: 1}, // '#' not last [MQTT-4.7.1-2]
		{Filter: []byte("g/a+"), QoS: 0},    // '+' not a whole level [MQTT-4.7.1-3]
		{Filter: []byte("g/+/ok"), QoS: 2},
	}}
	got := sub.SubscribeWith(&p)
	want := []codec.ReasonCode{0, 1, 1, 0x80, 0x80, 1}
	if len(got) != len(want) {
		t.Fatalf("SUBACK codes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("SUBACK codes %v, want %v", got, want)
		}
	}
	if n := srv.Stats().Subscriptions; n != 4 {
		t.Fatalf("Stats().Subscriptions = %d, want 4 (the invalid filters are not subscribed)", n)
	}
	pub := servertest.DialConnect(t, srv.Addr(), "granted-pub", true, false)
	pub.PublishAcked("g/2", "x", 1, false, 1)
	m := sub.ExpectMessage("g/2", "x", 1, false)
	sub.SendAck(codec.PUBACK, m.PacketID)
}

// TestUnsubscribe checks UNSUBSCRIBE/UNSUBACK [MQTT-3.10.4-4]: no message
// for the filter afterwards, other subscriptions unaffected, and an
// UNSUBACK even for a filter never subscribed [MQTT-3.10.4-5].
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	sub := servertest.DialConnect(t, srv.Addr(), "unsub-sub", true, false)
	pub := servertest.DialConnect(t, srv.Addr(), "unsub-pub", true, false)
	sub.MustSubscribe(1, 0, "u/a", "u/fence")
	pub.Publish("u/a", "before", 0, false, 0)
	sub.ExpectMessage("u/a", "before", 0, false)

	sub.Unsubscribe(2, "u/a")
	sub.Unsubscribe(3, "u/never-subscribed")
	pub.PublishAcked("u/a", "after", 1, false, 1)
	fenced(t, pub, sub, "u/fence")
	if n := srv.Stats().Subscriptions; n != 1 {
		t.Fatalf("Stats().Subscriptions = %d, want 1", n)
	}
}

// TestSubscribeWildcards checks '+' and '#' matching [MQTT-4.7.1], and that
// topics starting with '$' are not matched by filters starting with a
// wildcard [MQTT-4.7.2-1] but are by '$SYS/#'.
func TestSubscribeWildcards(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "wild-pub", true, false)
	plus := servertest.DialConnect(t, srv.Addr(), "wild-plus", true, false)
	plus.MustSubscribe(1, 0, "w/+/c", "+/x", "fence")
	hash := servertest.DialConnect(t, srv.Addr(), "wild-hash", true, false)
	hash.MustSubscribe(1, 0, "#")
	sys := servertest.DialConnect(t, srv.Addr(), "wild-sys", true, false)
	sys.MustSubscribe(1, 0, "$SYS/#")

	for _, topic := range []string{"w/b/c", "w//c", "a/x"} {
		pub.Publish(topic, topic, 0, false, 0)
		plus.ExpectMessage(topic, topic, 0, false)
		hash.ExpectMessage(topic, topic, 0, false)
	}
	for _, topic := range []string{"w/b/c/d", "w/c", "a/b/x"} {
		pub.Publish(topic, topic, 0, false, 0) // '+' is exactly one level
		hash.ExpectMessage(topic, topic, 0, false)
	}
	fenced(t, pub, plus, "fence")
	hash.ExpectMessage("fence", "fence", 0, false)

	pub.Publish("$SYS/x", "sys", 0, false, 0)
	sys.ExpectMessage("$SYS/x", "sys", 0, false)
	fenced(t, pub, plus, "fence")                  // "+/x" must not match "$SYS/x"
	hash.ExpectMessage("fence", "fence", 0, false) // nor "#"
}

// TestSubscribeOverlapping checks that a client whose subscriptions
// overlap gets one copy at the highest granted QoS (3.1.1 allows either;
// CP7 sends one) [MQTT-3.3.5-1].
func TestSubscribeOverlapping(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "over-pub", true, false)
	sub := servertest.DialConnect(t, srv.Addr(), "over-sub", true, false)
	sub.MustSubscribe(1, 0, "a/+")
	sub.MustSubscribe(2, 2, "a/#")
	sub.MustSubscribe(3, 0, "over/fence")
	pub.PublishAcked("a/b", "one copy", 2, false, 1)
	m := sub.ExpectMessage("a/b", "one copy", 2, false)
	fenced(t, pub, sub, "over/fence")
	sub.SendAck(codec.PUBREC, m.PacketID)
	sub.ExpectAck(codec.PUBREL, m.PacketID)
	sub.SendAck(codec.PUBCOMP, m.PacketID)

	// A repeated filter replaces its subscription [MQTT-3.8.4-3]: still one.
	sub.MustSubscribe(4, 1, "a/#")
	pub.PublishAcked("a/c", "still one", 2, false, 2)
	m = sub.ExpectMessage("a/c", "still one", 1, false)
	sub.SendAck(codec.PUBACK, m.PacketID)
	fenced(t, pub, sub, "over/fence")
}
