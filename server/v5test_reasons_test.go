package server_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
)

// TestV5ReasonCodes checks that the broker tells a v5 client why it closes
// the connection, with a DISCONNECT carrying the right reason code before
// the close [MQTT-4.13.1-1], and that PUBACK, SUBACK and UNSUBACK carry
// their reason codes.
func TestV5ReasonCodes(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, func(cfg *server.Config) {
		cfg.ReceiveMaximum = 2
		cfg.MaxPacketSize = 256
	})

	t.Run("0x8E session taken over", func(t *testing.T) {
		t.Parallel()
		old := v5Client(t, srv, "rc-takeover")
		neu := v5Client(t, srv, "rc-takeover")
		// [MQTT-3.1.4-3] the existing connection is closed, v5: with 0x8E.
		v5ExpectDisconnect(t, old, codec.SessionTakenOver, v5Wait)
		neu.Ping()
	})

	t.Run("0x8D keepalive timeout", func(t *testing.T) {
		t.Parallel()
		p := v5ConnectPacket("rc-keepalive", true, 0)
		p.KeepAlive = 1
		c, _ := v5Dial(t, srv, p, false)
		// Silent past 1.5 x keepalive [MQTT-3.1.2-22]: the wheel ticks each
		// second, so allow a few seconds.
		v5ExpectDisconnect(t, c, codec.KeepAliveTimeout, 6*time.Second)
	})

	t.Run("0x93 receive maximum exceeded", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-recvmax")
		// CONNACK said Receive Maximum 2: a third QoS 2 PUBLISH without
		// PUBREL is one too many [MQTT-3.3.4-8].
		for pid := uint16(1); pid <= 3; pid++ {
			v5Send(c, v5Msg{topic: "rc/recvmax", payload: "x", qos: 2, pid: pid})
		}
		before := v5ExpectDisconnect(t, c, codec.ReceiveMaximumExceeded, v5Wait)
		if len(before) != 2 || before[0].Type() != codec.PUBREC || before[1].Type() != codec.PUBREC {
			t.Fatalf("before the DISCONNECT got %v, want PUBREC for the first two publishes", before)
		}
	})

	t.Run("0x95 packet too large", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-toolarge")
		v5Send(c, v5Msg{topic: "rc/large", payload: string(bytes.Repeat([]byte("x"), 300))})
		v5ExpectDisconnect(t, c, codec.PacketTooLarge, v5Wait)
	})

	t.Run("0x82 second CONNECT", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-second-connect")
		c.Write(codec.AppendConnect(nil, v5ConnectPacket("rc-second-connect", true, 0)))
		v5ExpectDisconnect(t, c, codec.ProtocolError, v5Wait) // [MQTT-3.1.0-2]
	})

	t.Run("0x82 duplicate property", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-dup-prop")
		// PUBLISH "a", QoS 0, with Payload Format Indicator twice: "It is a
		// Protocol Error to include the Payload Format Indicator more than
		// once" (§3.3.2.3.2).
		c.Write([]byte{
			0x30, 9, // PUBLISH, remaining length 9
			0, 1, 'a', // topic "a"
			4,          // property length
			0x01, 0x01, // Payload Format Indicator 1
			0x01, 0x01, // ... again
			'x', // payload
		})
		v5ExpectDisconnect(t, c, codec.ProtocolError, v5Wait)
	})

	t.Run("0x82 PUBLISH with a Subscription Identifier", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-pub-subid")
		m := v5Msg{topic: "rc/subid", payload: "x"}
		m.props.SubscriptionIDs = []uint32{1}
		v5Send(c, m) // [MQTT-3.3.4-6]
		v5ExpectDisconnect(t, c, codec.ProtocolError, v5Wait)
	})

	t.Run("0x81 malformed properties", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-malformed")
		c.Write([]byte{
			0x30, 6, // PUBLISH, remaining length 6
			0, 1, 'a', // topic "a"
			10,         // property length 10: runs past the packet
			0x01, 0x01, // Payload Format Indicator 1
		})
		v5ExpectDisconnect(t, c, codec.MalformedPacket, v5Wait)
	})

	t.Run("PUBACK 0x10 no matching subscribers", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-puback")
		if rc := v5Publish(t, c, v5Msg{topic: "rc/puback/nobody", payload: "x", qos: 1, pid: 7}); rc != codec.NoMatchingSubscribers {
			t.Fatalf("PUBACK reason %v for a topic nobody subscribes to, want %v", rc, codec.NoMatchingSubscribers)
		}
		sub := v5Client(t, srv, "rc-puback-sub")
		v5MustSubscribe(t, sub, 1, 0, v5Sub("rc/puback/someone"))
		if rc := v5Publish(t, c, v5Msg{topic: "rc/puback/someone", payload: "x", qos: 1, pid: 8}); rc != codec.Success {
			t.Fatalf("PUBACK reason %v with a subscriber, want Success", rc)
		}
		// The same with QoS 2: PUBREC carries the code.
		if rc := v5Publish(t, c, v5Msg{topic: "rc/puback/nobody", payload: "x", qos: 2, pid: 9}); rc != codec.NoMatchingSubscribers {
			t.Fatalf("PUBREC reason %v for a topic nobody subscribes to, want %v", rc, codec.NoMatchingSubscribers)
		}
	})

	t.Run("SUBACK granted QoS and 0x8F", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-suback")
		codes := v5Subscribe(t, c, 3, 0,
			codec.Subscription{Filter: []byte("rc/suback/q2"), QoS: 2},
			codec.Subscription{Filter: []byte("rc/#/bad"), QoS: 1},
			codec.Subscription{Filter: []byte("rc/suback/q0"), QoS: 0},
			codec.Subscription{Filter: []byte("rc/suback/q1+"), QoS: 1},
		)
		want := []codec.ReasonCode{2, codec.TopicFilterInvalid, 0, codec.TopicFilterInvalid}
		if !slices.Equal(codes, want) {
			t.Fatalf("SUBACK codes %v, want %v (one per filter, in order [MQTT-3.9.3-1])", codes, want)
		}
	})

	t.Run("UNSUBACK 0x11 no subscription existed", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "rc-unsuback")
		v5MustSubscribe(t, c, 1, 0, v5Sub("rc/unsub/a"))
		p := codec.Unsubscribe{PacketID: 2, Filters: [][]byte{[]byte("rc/unsub/a"), []byte("rc/unsub/never")}}
		c.Write(codec.AppendUnsubscribe(nil, &p, codec.Version5))
		pk := c.Expect(codec.UNSUBACK)
		var ack codec.Unsuback
		if err := ack.Decode(pk.Body(), codec.Version5); err != nil {
			t.Fatalf("bad UNSUBACK %v: %v", pk, err)
		}
		want := []codec.ReasonCode{codec.Success, codec.NoSubscriptionExisted}
		if ack.PacketID != 2 || !slices.Equal(ack.ReasonCodes, want) {
			t.Fatalf("UNSUBACK id %d codes %v, want id 2 codes %v", ack.PacketID, ack.ReasonCodes, want)
		}
	})

	t.Run("0x8B server shutting down", func(t *testing.T) {
		t.Parallel()
		own := v5Start(t, nil)
		a := v5Client(t, own, "rc-shutdown-a")
		b := v5Client(t, own, "rc-shutdown-b")
		closed := make(chan error, 1)
		go func() { closed <- own.Close() }()
		v5ExpectDisconnect(t, a, codec.ServerShuttingDown, v5Wait)
		v5ExpectDisconnect(t, b, codec.ServerShuttingDown, v5Wait)
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
		case <-time.After(2 * v5Wait):
			t.Fatalf("Close did not return within %v", 2*v5Wait)
		}
	})
}
