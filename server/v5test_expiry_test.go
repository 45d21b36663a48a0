package server_test

import (
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
)

// v5Expiring is a message with the Message Expiry Interval secs.
func v5Expiring(topic, payload string, qos byte, retain bool, pid uint16, secs uint32) v5Msg {
	m := v5Msg{topic: topic, payload: payload, qos: qos, retain: retain, pid: pid}
	m.props.MessageExpiry = secs
	m.props.Set(codec.PropMessageExpiry)
	return m
}

// v5OneSecondPasses waits for a one-second Message Expiry Interval set at
// start to pass, with a margin. The interval is the thing under test, so
// the wait is for the clock itself, not for an event the broker could signal.
func v5OneSecondPasses(start time.Time) {
	time.Sleep(time.Until(start.Add(time.Second + 200*time.Millisecond)))
}

// TestV5MessageExpiry checks the Message Expiry Interval [MQTT-3.3.2-5]: a
// message that expires while queued for an offline session is not
// delivered, a delivered message carries the remaining interval
// [MQTT-3.3.2-6], and an expired retained message is no longer sent to new
// subscribers.
func TestV5MessageExpiry(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, nil)

	t.Run("queued message expires offline", func(t *testing.T) {
		t.Parallel()
		c, _ := v5Dial(t, srv, v5ConnectPacket("me-offline", true, 60), false)
		v5MustSubscribe(t, c, 1, 0, v5Sub("me/offline"))
		c.Disconnect()

		pub := v5Client(t, srv, "me-offline-pub")
		start := time.Now()
		dropped := srv.Stats().DroppedExpired
		v5Publish(t, pub, v5Expiring("me/offline", "short", 1, false, 1, 1))
		v5Publish(t, pub, v5Expiring("me/offline", "long", 1, false, 2, 60))
		v5Publish(t, pub, v5Msg{topic: "me/offline", payload: "forever", qos: 1, pid: 3})
		v5OneSecondPasses(start)

		c, _ = v5Dial(t, srv, v5ConnectPacket("me-offline", false, 60), true)
		got := v5Fence(t, c)
		if len(got) != 2 || string(got[0].Payload) != "long" || string(got[1].Payload) != "forever" {
			t.Fatalf("after the short expiry passed got %v, want long then forever", v5Topics(got))
		}
		long, forever := got[0], got[1]
		// [MQTT-3.3.2-6] the interval sent is what is left, so below 60 after
		// more than a second queued.
		if !long.Props.Has(codec.PropMessageExpiry) || long.Props.MessageExpiry >= 60 || long.Props.MessageExpiry == 0 {
			t.Errorf("queued message of 60 s delivered after over 1 s: expiry present %v value %d, want 1..59",
				long.Props.Has(codec.PropMessageExpiry), long.Props.MessageExpiry)
		}
		if forever.Props.Has(codec.PropMessageExpiry) {
			t.Errorf("message without expiry delivered with Message Expiry Interval %d", forever.Props.MessageExpiry)
		}
		for _, p := range got {
			c.SendAck(codec.PUBACK, p.PacketID)
		}
		if d := srv.Stats().DroppedExpired - dropped; d < 1 {
			t.Errorf("Stats().DroppedExpired went up by %d, want the expired message counted", d)
		}
	})

	t.Run("delivered message carries the remaining interval", func(t *testing.T) {
		t.Parallel()
		sub := v5Client(t, srv, "me-online-sub")
		v5MustSubscribe(t, sub, 1, 0, v5Sub("me/online"))
		pub := v5Client(t, srv, "me-online-pub")
		v5Publish(t, pub, v5Expiring("me/online", "x", 1, false, 1, 30))
		p := sub.ExpectMessage("me/online", "x", 1, false)
		sub.SendAck(codec.PUBACK, p.PacketID)
		if !p.Props.Has(codec.PropMessageExpiry) || p.Props.MessageExpiry == 0 || p.Props.MessageExpiry > 30 {
			t.Fatalf("Message Expiry Interval present %v value %d, want 1..30", p.Props.Has(codec.PropMessageExpiry), p.Props.MessageExpiry)
		}
	})

	t.Run("expired retained message is not sent", func(t *testing.T) {
		t.Parallel()
		pub := v5Client(t, srv, "me-retain-pub")
		start := time.Now()
		v5Publish(t, pub, v5Expiring("me/retain/short", "short", 1, true, 1, 1))
		v5Publish(t, pub, v5Msg{topic: "me/retain/kept", payload: "kept", qos: 1, retain: true, pid: 2})

		// Before it expires a new subscriber gets both.
		early := v5Client(t, srv, "me-retain-early")
		v5MustSubscribe(t, early, 1, 0, v5Sub("me/retain/#"))
		if got := v5Fence(t, early); len(got) != 2 {
			t.Fatalf("before expiry a new subscriber got %v, want both retained messages", v5Topics(got))
		}

		v5OneSecondPasses(start)
		late := v5Client(t, srv, "me-retain-late")
		v5MustSubscribe(t, late, 1, 0, v5Sub("me/retain/#"))
		got := v5Fence(t, late)
		if len(got) != 1 || string(got[0].Topic) != "me/retain/kept" || !got[0].Retain {
			t.Fatalf("after expiry a new subscriber got %v, want only me/retain/kept with retain set", v5Topics(got))
		}
	})
}
