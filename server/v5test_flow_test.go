package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// v5Payloads lists the payloads of ps.
func v5Payloads(ps []*codec.Publish) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p.Payload)
	}
	return out
}

// TestV5FlowControl checks that the broker never has more unacknowledged
// QoS 1 and 2 deliveries to a client than the client's Receive Maximum
// [MQTT-3.3.4-9], and sends the next one as soon as one is acknowledged
// (PUBACK for QoS 1, PUBCOMP for QoS 2), also to a resumed session.
func TestV5FlowControl(t *testing.T) {
	t.Parallel()
	// One event loop, so that a fence on the subscriber comes after every
	// delivery the publisher's messages caused.
	srv := v5Start(t, v5OneLoop)

	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("QoS %d", qos), func(t *testing.T) {
			t.Parallel()
			topic := fmt.Sprintf("fc/q%d", qos)
			p := v5ConnectPacket(fmt.Sprintf("fc-sub-%d", qos), true, 0)
			p.Props.ReceiveMaximum = 2
			p.Props.Set(codec.PropReceiveMaximum)
			sub, _ := v5Dial(t, srv, p, false)
			v5MustSubscribe(t, sub, 1, 0, codec.Subscription{Filter: []byte(topic), QoS: qos})

			pub := v5Client(t, srv, fmt.Sprintf("fc-pub-%d", qos))
			for i := range 5 {
				v5Publish(t, pub, v5Msg{topic: topic, payload: fmt.Sprint("m", i), qos: qos, pid: uint16(i + 1)})
			}

			// ack completes the delivery of p as the subscriber.
			ack := func(p *codec.Publish) {
				t.Helper()
				if qos == 1 {
					sub.SendAck(codec.PUBACK, p.PacketID)
					return
				}
				sub.SendAck(codec.PUBREC, p.PacketID)
				v5ExpectAck(t, sub, codec.PUBREL, p.PacketID)
				// Between PUBREC and PUBCOMP the delivery still counts.
				if got := v5Fence(t, sub); len(got) != 0 {
					t.Fatalf("after PUBREC, before PUBCOMP, got %v: the window was freed too early", v5Payloads(got))
				}
				sub.SendAck(codec.PUBCOMP, p.PacketID)
			}

			// fence checks that exactly the given payloads arrived.
			fence := func(when string, want ...string) []*codec.Publish {
				t.Helper()
				got := v5Fence(t, sub)
				if fmt.Sprint(v5Payloads(got)) != fmt.Sprint(want) {
					t.Fatalf("%s got %v, want exactly %v (Receive Maximum 2)", when, v5Payloads(got), want)
				}
				return got
			}
			first := fence("with nothing acknowledged", "m0", "m1")
			ack(first[0])
			m2 := fence("after acknowledging m0", "m2")
			ack(first[1])
			m3 := fence("after acknowledging m1", "m3")
			ack(m2[0])
			m4 := fence("after acknowledging m2", "m4")
			ack(m3[0])
			ack(m4[0])
			if got := v5Fence(t, sub); len(got) != 0 {
				t.Fatalf("after everything was acknowledged got %v", v5Payloads(got))
			}
		})
	}
	t.Run("resumed session", func(t *testing.T) {
		t.Parallel()
		v5FlowOnResume(t, srv)
	})
}

// v5FlowOnResume checks that the in-flight deliveries the broker re-sends to
// a resumed session [MQTT-4.4.0-1] respect the Receive Maximum of the new
// connection [MQTT-3.3.4-9]: a client that comes back with a smaller window
// gets no more than it asked for.
func v5FlowOnResume(t *testing.T, srv *server.Server) {
	connect := func(recvMax uint16, clean, present bool) *servertest.Conn {
		t.Helper()
		p := v5ConnectPacket("fcr-sub", clean, 60)
		p.Props.ReceiveMaximum = recvMax
		p.Props.Set(codec.PropReceiveMaximum)
		c, _ := v5Dial(t, srv, p, present)
		return c
	}
	sub := connect(3, true, false)
	v5MustSubscribe(t, sub, 1, 0, v5Sub("fcr/t"))
	pub := v5Client(t, srv, "fcr-pub")
	for i := range 4 {
		v5Publish(t, pub, v5Msg{topic: "fcr/t", payload: fmt.Sprint("m", i), qos: 1, pid: uint16(i + 1)})
	}
	if got := v5Payloads(v5Fence(t, sub)); len(got) != 3 {
		t.Fatalf("with Receive Maximum 3 got %v, want m0 m1 m2", got)
	}
	sub.Disconnect() // nothing acknowledged: three in flight, one queued

	sub = connect(1, false, true)
	got := v5Fence(t, sub)
	if len(got) != 1 {
		t.Fatalf("resumed with Receive Maximum 1, got %v at once: want exactly one unacknowledged delivery", v5Payloads(got))
	}
	// The rest follow one at a time, each after the previous is acknowledged.
	seen := []string{string(got[0].Payload)}
	for len(seen) < 4 {
		sub.SendAck(codec.PUBACK, got[0].PacketID)
		got = v5Fence(t, sub)
		if len(got) != 1 {
			t.Fatalf("after acknowledging %v got %v, want exactly one more", seen, v5Payloads(got))
		}
		seen = append(seen, string(got[0].Payload))
	}
	sub.SendAck(codec.PUBACK, got[0].PacketID)
	if fmt.Sprint(seen) != "[m0 m1 m2 m3]" {
		t.Fatalf("resumed deliveries in the order %v, want m0 m1 m2 m3", seen)
	}
}

// TestV5MaximumPacketSize checks Maximum Packet Size both ways: a message
// larger than the client's maximum is not sent to it (and counted) while
// smaller ones are [MQTT-3.1.2-24, 3.1.2-25], and a packet larger than the
// broker's maximum ends the connection with DISCONNECT 0x95.
func TestV5MaximumPacketSize(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, func(cfg *server.Config) { cfg.MaxPacketSize = 128 })

	t.Run("outbound", func(t *testing.T) {
		t.Parallel()
		p := v5ConnectPacket("mps-sub", true, 0)
		p.Props.MaximumPacketSize = 100
		p.Props.Set(codec.PropMaximumPacketSize)
		// Receive Maximum 1: the dropped QoS 1 message must not keep its
		// in-flight slot, or the next message would never come.
		p.Props.ReceiveMaximum = 1
		p.Props.Set(codec.PropReceiveMaximum)
		sub, _ := v5Dial(t, srv, p, false)
		v5MustSubscribe(t, sub, 1, 0, v5Sub("mps/t"))
		pub := v5Client(t, srv, "mps-pub")

		before := srv.Stats().DroppedTooLarge
		big := strings.Repeat("b", 100) // PUBLISH of about 110 bytes: over 100, under the broker's 128
		v5Publish(t, pub, v5Msg{topic: "mps/t", payload: "small1", qos: 1, pid: 1})
		v5Publish(t, pub, v5Msg{topic: "mps/t", payload: big, qos: 1, pid: 2})
		v5Publish(t, pub, v5Msg{topic: "mps/t", payload: big, qos: 0})
		v5Publish(t, pub, v5Msg{topic: "mps/t", payload: "small2", qos: 1, pid: 3})

		m := sub.ExpectMessage("mps/t", "small1", 1, false)
		sub.SendAck(codec.PUBACK, m.PacketID)
		m = sub.ExpectMessage("mps/t", "small2", 1, false)
		sub.SendAck(codec.PUBACK, m.PacketID)
		if d := srv.Stats().DroppedTooLarge - before; d != 2 {
			t.Fatalf("Stats().DroppedTooLarge went up by %d, want 2 (one QoS 1, one QoS 0)", d)
		}
	})

	t.Run("DISCONNECT fits the client's maximum", func(t *testing.T) {
		t.Parallel()
		p := v5ConnectPacket("mps-disconnect", true, 0)
		p.Props.MaximumPacketSize = 30
		p.Props.Set(codec.PropMaximumPacketSize)
		c, _ := v5Dial(t, srv, p, false)
		// A duplicate property: the broker's reason for closing is longer
		// than 30 bytes, so the DISCONNECT cannot carry it as a Reason String
		// [MQTT-3.1.2-25, 3.14.2-3].
		c.Write([]byte{0x30, 9, 0, 1, 'a', 4, 0x01, 0x01, 0x01, 0x01, 'x'})
		got := c.ExpectClosed(v5Wait)
		if len(got) != 1 || got[0].Type() != codec.DISCONNECT {
			t.Fatalf("got %v, want one DISCONNECT", got)
		}
		if n := len(got[0].Raw); n > 30 {
			t.Fatalf("DISCONNECT of %d bytes to a client whose Maximum Packet Size is 30", n)
		}
	})

	t.Run("inbound", func(t *testing.T) {
		t.Parallel()
		c, ack := v5Dial(t, srv, v5ConnectPacket("mps-in", true, 0), false)
		if ack.Props.MaximumPacketSize != 128 {
			t.Fatalf("CONNACK Maximum Packet Size %d, want 128", ack.Props.MaximumPacketSize)
		}
		v5Publish(t, c, v5Msg{topic: "mps/in", payload: strings.Repeat("s", 100), qos: 1, pid: 1})
		v5Send(c, v5Msg{topic: "mps/in", payload: strings.Repeat("L", 130), qos: 1, pid: 2})
		v5ExpectDisconnect(t, c, codec.PacketTooLarge, v5Wait)
	})
}

// v5Aliased is a message with the Topic Alias alias.
func v5Aliased(topic, payload string, pid uint16, alias uint16) v5Msg {
	m := v5Msg{topic: topic, payload: payload, qos: 1, pid: pid}
	m.props.TopicAlias = alias
	m.props.Set(codec.PropTopicAlias)
	return m
}

// TestV5TopicAliases checks Topic Aliases both ways [MQTT-3.3.2-7..12]: an
// inbound alias set with a topic stands for it when the topic is empty, an
// alias of 0 or above the broker's Topic Alias Maximum is DISCONNECT 0x94,
// the broker assigns outbound aliases when the client allows them, and both
// directions start afresh on a new connection.
func TestV5TopicAliases(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, func(cfg *server.Config) { cfg.TopicAliasMaximum = 4 })

	t.Run("inbound alias set then used", func(t *testing.T) {
		t.Parallel()
		sub := v5Client(t, srv, "ta-in-sub")
		v5MustSubscribe(t, sub, 1, 0, v5Sub("ta/in/#"))
		pub := v5Client(t, srv, "ta-in-pub")
		for _, m := range []v5Msg{
			v5Aliased("ta/in/x", "1", 1, 1), // set alias 1
			v5Aliased("", "2", 2, 1),        // use it
			v5Aliased("ta/in/y", "3", 3, 1), // map it to another topic
			v5Aliased("", "4", 4, 1),
			v5Aliased("ta/in/z", "5", 5, 4), // the maximum itself is allowed
			v5Aliased("", "6", 6, 4),
		} {
			if rc := v5Publish(t, pub, m); rc != codec.Success {
				t.Fatalf("PUBACK %v for %q alias %d", rc, m.topic, m.props.TopicAlias)
			}
		}
		for _, want := range []string{"ta/in/x=1", "ta/in/x=2", "ta/in/y=3", "ta/in/y=4", "ta/in/z=5", "ta/in/z=6"} {
			p := sub.ExpectPublish()
			sub.SendAck(codec.PUBACK, p.PacketID)
			if got := string(p.Topic) + "=" + string(p.Payload); got != want {
				t.Fatalf("subscriber got %s, want %s", got, want)
			}
		}
	})

	t.Run("alias 0 is 0x94", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "ta-zero")
		v5Send(c, v5Aliased("ta/zero", "x", 1, 0)) // [MQTT-3.3.2-8]
		v5ExpectDisconnect(t, c, codec.TopicAliasInvalid, v5Wait)
	})

	t.Run("alias above the maximum is 0x94", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "ta-above")
		v5Send(c, v5Aliased("ta/above", "x", 1, 5)) // [MQTT-3.3.2-9]
		v5ExpectDisconnect(t, c, codec.TopicAliasInvalid, v5Wait)
	})

	// outbound connects a client that allows 10 topic aliases, with a
	// session kept for a minute.
	outbound := func(t *testing.T, id string, present bool) *servertest.Conn {
		t.Helper()
		p := v5ConnectPacket(id, !present, 60)
		p.Props.TopicAliasMaximum = 10
		p.Props.Set(codec.PropTopicAliasMaximum)
		c, _ := v5Dial(t, srv, p, present)
		return c
	}
	type got struct {
		topic string
		alias uint16
	}
	receive := func(t *testing.T, sub *servertest.Conn) got {
		t.Helper()
		p := sub.ExpectPublish()
		sub.SendAck(codec.PUBACK, p.PacketID)
		var a uint16
		if p.Props.Has(codec.PropTopicAlias) {
			a = p.Props.TopicAlias
		}
		return got{string(p.Topic), a}
	}

	t.Run("outbound aliases", func(t *testing.T) {
		t.Parallel()
		sub := outbound(t, "ta-out-sub", false)
		v5MustSubscribe(t, sub, 1, 0, v5Sub("ta/out/#"))
		pub := v5Client(t, srv, "ta-out-pub")
		for i, topic := range []string{"ta/out/a", "ta/out/a", "ta/out/b", "ta/out/a"} {
			v5Publish(t, pub, v5Msg{topic: topic, payload: "x", qos: 1, pid: uint16(i + 1)})
		}
		a1, a2, b, a3 := receive(t, sub), receive(t, sub), receive(t, sub), receive(t, sub)
		if a1.topic != "ta/out/a" || a1.alias == 0 || a1.alias > 10 {
			t.Fatalf("first delivery on ta/out/a: topic %q alias %d, want the topic with a new alias in 1..10", a1.topic, a1.alias)
		}
		if a2.topic != "" || a2.alias != a1.alias || a3.topic != "" || a3.alias != a1.alias {
			t.Fatalf("later deliveries on ta/out/a: %+v %+v, want an empty topic and alias %d", a2, a3, a1.alias)
		}
		if b.topic != "ta/out/b" || b.alias == 0 || b.alias == a1.alias || b.alias > 10 {
			t.Fatalf("first delivery on ta/out/b: %+v, want the topic with another alias", b)
		}
	})

	t.Run("outbound aliases within the client's maximum", func(t *testing.T) {
		t.Parallel()
		p := v5ConnectPacket("ta-max-sub", true, 0)
		p.Props.TopicAliasMaximum = 1
		p.Props.Set(codec.PropTopicAliasMaximum)
		sub, _ := v5Dial(t, srv, p, false)
		v5MustSubscribe(t, sub, 1, 0, v5Sub("ta/max/#"))
		pub := v5Client(t, srv, "ta-max-pub")
		for i, topic := range []string{"ta/max/a", "ta/max/b", "ta/max/a", "ta/max/b"} {
			v5Publish(t, pub, v5Msg{topic: topic, payload: "x", qos: 1, pid: uint16(i + 1)})
		}
		a1, b1, a2, b2 := receive(t, sub), receive(t, sub), receive(t, sub), receive(t, sub)
		// [MQTT-3.1.2-26] never an alias above 1; the one alias stays with
		// the topic it was given to, the other topic goes in full.
		if a1 != (got{"ta/max/a", 1}) || a2 != (got{"", 1}) {
			t.Fatalf("deliveries on ta/max/a: %+v then %+v, want the topic with alias 1, then alias 1 alone", a1, a2)
		}
		if b1 != (got{"ta/max/b", 0}) || b2 != (got{"ta/max/b", 0}) {
			t.Fatalf("deliveries on ta/max/b: %+v and %+v, want the full topic without an alias", b1, b2)
		}
	})

	t.Run("aliases reset on reconnect", func(t *testing.T) {
		t.Parallel()
		// Inbound: an alias set on the last connection means nothing now.
		c, _ := v5Dial(t, srv, v5ConnectPacket("ta-reset-in", true, 60), false)
		v5Publish(t, c, v5Aliased("ta/reset/in", "x", 1, 2))
		c.Disconnect()
		c, _ = v5Dial(t, srv, v5ConnectPacket("ta-reset-in", false, 60), true)
		v5Send(c, v5Aliased("", "y", 2, 2))
		v5ExpectDisconnect(t, c, codec.ProtocolError, v5Wait)

		// Outbound: the broker sends the topic again with the alias.
		sub := outbound(t, "ta-reset-out", false)
		v5MustSubscribe(t, sub, 1, 0, v5Sub("ta/reset/out"))
		pub := v5Client(t, srv, "ta-reset-pub")
		v5Publish(t, pub, v5Msg{topic: "ta/reset/out", payload: "1", qos: 1, pid: 1})
		v5Publish(t, pub, v5Msg{topic: "ta/reset/out", payload: "2", qos: 1, pid: 2})
		if r1, r2 := receive(t, sub), receive(t, sub); r1.topic == "" || r2.topic != "" || r2.alias != r1.alias {
			t.Fatalf("before reconnecting got %+v then %+v, want the topic then the alias alone", r1, r2)
		}
		sub.Disconnect()
		sub = outbound(t, "ta-reset-out", true)
		v5Publish(t, pub, v5Msg{topic: "ta/reset/out", payload: "3", qos: 1, pid: 3})
		if r := receive(t, sub); r.topic != "ta/reset/out" || r.alias == 0 {
			t.Fatalf("first delivery on the new connection: %+v, want the topic with an alias", r)
		}
	})
}
