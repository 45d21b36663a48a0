package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// v5Paho3 connects a paho.mqtt.golang MQTT 3.1.1 client as id (clean
// session, no automatic reconnect, handlers called in order) and returns it
// with the channel its subscriptions deliver to. It disconnects in
// t.Cleanup.
func v5Paho3(t *testing.T, srv *server.Server, id string) (mqtt.Client, chan mqtt.Message) {
	t.Helper()
	msgs := make(chan mqtt.Message, 256)
	opts := mqtt.NewClientOptions().
		AddBroker("tcp://" + srv.Addr().String()).
		SetClientID(id).
		SetCleanSession(true).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(v5Wait).
		SetWriteTimeout(v5Wait).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { msgs <- m })
	c := mqtt.NewClient(opts)
	v5Token(t, c.Connect(), "paho.mqtt.golang connect "+id)
	t.Cleanup(func() { c.Disconnect(0) })
	return c, msgs
}

// v5Token fails the test unless tok completes without error in time.
func v5Token(t *testing.T, tok mqtt.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(v5Wait) {
		t.Fatalf("%s: not done within %v", what, v5Wait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// v5Paho3Until returns the payloads msgs delivers before the first message
// on topic fence.
func v5Paho3Until(t *testing.T, msgs chan mqtt.Message, fence string) []string {
	t.Helper()
	var got []string
	for {
		select {
		case m := <-msgs:
			if m.Topic() == fence {
				return got
			}
			got = append(got, string(m.Payload()))
		case <-time.After(v5Wait):
			t.Fatalf("paho.mqtt.golang client: no fence on %s within %v (got %v)", fence, v5Wait, got)
		}
	}
}

// v5Until reads PUBLISHes on c until one on topic fence, acknowledging QoS 1
// ones when ack is set, and returns the payloads before the fence.
func v5Until(t *testing.T, c *servertest.Conn, fence string, ack bool) []string {
	t.Helper()
	var got []string
	for {
		p := c.ExpectPublish()
		if ack && p.QoS == 1 {
			c.SendAck(codec.PUBACK, p.PacketID)
		}
		if string(p.Topic) == fence {
			return got
		}
		got = append(got, string(p.Payload))
	}
}

// v5Share publishes n QoS 0 messages "0".."n-1" on topic, then one on
// topic+"-fence", which every member also subscribes to: deliveries from
// one publisher to one subscriber keep their order, so each member has all
// of its share once it reads the fence.
func v5Share(t *testing.T, srv *server.Server, topic string, n int) {
	t.Helper()
	pub := v5Client(t, srv, "pub-"+topic)
	for i := range n {
		v5Publish(t, pub, v5Msg{topic: topic, payload: fmt.Sprint(i)})
	}
	v5Publish(t, pub, v5Msg{topic: topic + "-fence", payload: "fence"})
}

// v5Member connects a raw v5 client subscribed to the shared filter and to
// the fence topic.
func v5Member(t *testing.T, srv *server.Server, id, shared, fence string) *servertest.Conn {
	t.Helper()
	c := v5Client(t, srv, id)
	v5MustSubscribe(t, c, 1, 0, v5Sub(shared), v5Sub(fence))
	return c
}

// v5OncePerMessage fails unless the shares together hold each of "0".."n-1"
// exactly once.
func v5OncePerMessage(t *testing.T, n int, shares ...[]string) {
	t.Helper()
	var got []string
	for _, s := range shares {
		got = append(got, s...)
	}
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprint(i)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("members received %v between them, want each of 0..%d exactly once", shares, n-1)
	}
}

// TestV5SharedSubscriptions checks $share/{group}/{filter} [MQTT-4.8.2]:
// each message goes to one member, round robin spreads evenly, the random
// and hash strategies also deliver each message once, a member whose
// session ends hands its unacknowledged QoS 1 messages to another member
// [MQTT-4.8.2-6 (SHOULD)], $queue/{filter} is the group "$queue", and a
// 3.1.1 client can be a member.
func TestV5SharedSubscriptions(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, nil) // round robin, the default

	t.Run("round robin 5 and 5", func(t *testing.T) {
		t.Parallel()
		a := v5Member(t, srv, "sh-rr-a", "$share/g/sh/rr", "sh/rr-fence")
		b := v5Member(t, srv, "sh-rr-b", "$share/g/sh/rr", "sh/rr-fence")
		v5Share(t, srv, "sh/rr", 10)
		ga, gb := v5Until(t, a, "sh/rr-fence", true), v5Until(t, b, "sh/rr-fence", true)
		v5OncePerMessage(t, 10, ga, gb)
		if len(ga) != 5 || len(gb) != 5 {
			t.Fatalf("round robin gave %v and %v, want 5 each", ga, gb)
		}
	})

	for _, tc := range []struct {
		name     string
		strategy router.SharedStrategy
	}{
		{"random", router.SharedRandom},
		{"hash", router.SharedHashClientID},
	} {
		t.Run(tc.name+" delivers each message once", func(t *testing.T) {
			t.Parallel()
			own := v5Start(t, func(cfg *server.Config) { cfg.SharedStrategy = tc.strategy })
			a := v5Member(t, own, "sh-s-a", "$share/g/sh/s", "sh/s-fence")
			b := v5Member(t, own, "sh-s-b", "$share/g/sh/s", "sh/s-fence")
			v5Share(t, own, "sh/s", 10)
			ga, gb := v5Until(t, a, "sh/s-fence", true), v5Until(t, b, "sh/s-fence", true)
			v5OncePerMessage(t, 10, ga, gb)
			if tc.strategy == router.SharedHashClientID && len(ga) != 10 && len(gb) != 10 {
				t.Fatalf("hash strategy spread one topic over both members (%v, %v): want it to stick to one", ga, gb)
			}
		})
	}

	t.Run("unacknowledged QoS 1 goes to another member", func(t *testing.T) {
		t.Parallel()
		leaver := v5Member(t, srv, "sh-redo-leaver", "$share/g/sh/redo", "sh/redo-fence")
		stayer := v5Member(t, srv, "sh-redo-stayer", "$share/g/sh/redo", "sh/redo-fence")
		pub := v5Client(t, srv, "sh-redo-pub")
		for i := range 6 {
			v5Publish(t, pub, v5Msg{topic: "sh/redo", payload: fmt.Sprint(i), qos: 1, pid: uint16(i + 1)})
		}
		v5Publish(t, pub, v5Msg{topic: "sh/redo-fence", payload: "fence"})
		left := v5Until(t, leaver, "sh/redo-fence", false) // never acknowledged
		stayed := v5Until(t, stayer, "sh/redo-fence", true)
		if len(left) == 0 {
			t.Fatalf("the leaving member got nothing (the other got %v): nothing to redeliver", stayed)
		}
		// Its session (expiry 0) ends with the connection.
		leaver.Close()
		var redone []string
		for range left {
			p := stayer.ExpectPublish()
			stayer.SendAck(codec.PUBACK, p.PacketID)
			redone = append(redone, string(p.Payload))
		}
		slices.Sort(redone)
		slices.Sort(left)
		if !slices.Equal(redone, left) {
			t.Fatalf("remaining member got %v after the other left, want its unacknowledged %v", redone, left)
		}
		if got := v5Fence(t, stayer); len(got) != 0 {
			t.Fatalf("then got %v", v5Topics(got))
		}
		v5OncePerMessage(t, 6, stayed, redone)
	})

	t.Run("$queue is $share/$queue", func(t *testing.T) {
		t.Parallel()
		a := v5Member(t, srv, "sh-q-a", "$queue/sh/q", "sh/q-fence")
		b := v5Member(t, srv, "sh-q-b", "$share/$queue/sh/q", "sh/q-fence")
		v5Share(t, srv, "sh/q", 10)
		ga, gb := v5Until(t, a, "sh/q-fence", true), v5Until(t, b, "sh/q-fence", true)
		v5OncePerMessage(t, 10, ga, gb)
		if len(ga) != 5 || len(gb) != 5 {
			t.Fatalf("one round-robin group should give 5 each, got %v and %v", ga, gb)
		}
	})

	t.Run("3.1.1 member", func(t *testing.T) {
		t.Parallel()
		a := v5Member(t, srv, "sh-mix-v5", "$share/g/sh/mix", "sh/mix-fence")
		old, msgs := v5Paho3(t, srv, "sh-mix-v311")
		v5Token(t, old.SubscribeMultiple(map[string]byte{"$share/g/sh/mix": 1, "sh/mix-fence": 1}, nil), "paho.mqtt.golang subscribe")
		v5Share(t, srv, "sh/mix", 10)
		ga, gb := v5Until(t, a, "sh/mix-fence", true), v5Paho3Until(t, msgs, "sh/mix-fence")
		v5OncePerMessage(t, 10, ga, gb)
		if len(ga) != 5 || len(gb) != 5 {
			t.Fatalf("round robin gave the v5 member %v and the 3.1.1 member %v, want 5 each", ga, gb)
		}
	})
}
