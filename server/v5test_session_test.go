package server_test

import (
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// v5Disconnect sends a DISCONNECT with reason rc, and with the Session
// Expiry Interval expiry when setExpiry is true, then waits for the close.
func v5Disconnect(t *testing.T, c *servertest.Conn, rc codec.ReasonCode, setExpiry bool, expiry uint32) {
	t.Helper()
	d := codec.Disconnect{ReasonCode: rc}
	if setExpiry {
		d.Props.SessionExpiry = expiry
		d.Props.Set(codec.PropSessionExpiry)
	}
	c.Write(codec.AppendDisconnect(nil, &d, codec.Version5))
	if got := c.ExpectClosed(v5Wait); len(got) > 0 {
		t.Fatalf("after DISCONNECT the broker sent %v before closing", got)
	}
}

// v5StartOfSecond waits (at most a second) for the next wall-clock second to
// begin. The broker keeps will delays and session expiry in whole Unix
// seconds and acts on them from a once-a-second tick, so a deadline of one
// second set early in a second cannot fire before the next second starts:
// the test then has most of a second to check that nothing happened at once.
// This aligns the test with the broker's clock; it does not wait for an event.
func v5StartOfSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 10*time.Millisecond).Sub(now))
}

// v5WaitStat waits until stat() reaches want.
func v5WaitStat(t *testing.T, timeout time.Duration, what string, stat func() uint64, want uint64) {
	t.Helper()
	servertest.Eventually(t, timeout, func() bool { return stat() >= want }, what)
	if got := stat(); got != want {
		t.Fatalf("%s: %d, want %d", what, got, want)
	}
}

// TestV5SessionExpiry checks the Session Expiry Interval [MQTT-3.1.2-23]:
// 0 ends the session with the connection, a short interval keeps it (and its
// subscriptions) until it passes, 0xFFFFFFFF keeps it for good, and
// DISCONNECT may change it [MQTT-3.14.2-2] except from 0 to non-zero.
func TestV5SessionExpiry(t *testing.T) {
	t.Parallel()

	t.Run("0 ends the session at disconnect", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, nil)
		c, _ := v5Dial(t, srv, v5ConnectPacket("se-zero", true, 0), false)
		v5MustSubscribe(t, c, 1, 0, v5Sub("se/zero"))
		c.Disconnect()
		v5Dial(t, srv, v5ConnectPacket("se-zero", false, 60), false)
		pub := v5Client(t, srv, "se-zero-pub")
		if rc := v5Publish(t, pub, v5Msg{topic: "se/zero", payload: "x", qos: 1, pid: 1}); rc != codec.NoMatchingSubscribers {
			t.Fatalf("PUBACK %v: the ended session's subscription is still there", rc)
		}
	})

	t.Run("2 s keeps the session until it passes", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, nil)
		pub := v5Client(t, srv, "se-short-pub")
		c, _ := v5Dial(t, srv, v5ConnectPacket("se-short", true, 2), false)
		v5MustSubscribe(t, c, 1, 0, v5Sub("se/short"))
		c.Disconnect()

		// Back within the interval: the session and its subscription are there.
		c, _ = v5Dial(t, srv, v5ConnectPacket("se-short", false, 2), true)
		if rc := v5Publish(t, pub, v5Msg{topic: "se/short", payload: "kept", qos: 1, pid: 1}); rc != codec.Success {
			t.Fatalf("PUBACK %v with the resumed subscription", rc)
		}
		m := c.ExpectMessage("se/short", "kept", 1, false)
		c.SendAck(codec.PUBACK, m.PacketID)
		c.Disconnect()

		// The broker ends it once the interval has passed offline.
		v5WaitStat(t, 3*2*time.Second, "sessions expired", func() uint64 { return srv.Stats().SessionsExpired }, 1)
		v5Dial(t, srv, v5ConnectPacket("se-short", false, 2), false)
		if rc := v5Publish(t, pub, v5Msg{topic: "se/short", payload: "gone", qos: 1, pid: 2}); rc != codec.NoMatchingSubscribers {
			t.Fatalf("PUBACK %v: the expired session's subscription is still there", rc)
		}
	})

	t.Run("0xFFFFFFFF never expires", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, nil)
		c, _ := v5Dial(t, srv, v5ConnectPacket("se-forever", true, 0xFFFFFFFF), false)
		v5MustSubscribe(t, c, 1, 0, v5Sub("se/forever"))
		c.Disconnect()
		// A control session of 1 s, ended after the first, expires; the
		// first must outlive it.
		ctl, _ := v5Dial(t, srv, v5ConnectPacket("se-forever-control", true, 1), false)
		ctl.Disconnect()
		v5WaitStat(t, 3*time.Second+v5Wait, "sessions expired", func() uint64 { return srv.Stats().SessionsExpired }, 1)
		c, _ = v5Dial(t, srv, v5ConnectPacket("se-forever", false, 0xFFFFFFFF), true)
		pub := v5Client(t, srv, "se-forever-pub")
		v5Publish(t, pub, v5Msg{topic: "se/forever", payload: "still", qos: 0})
		c.ExpectMessage("se/forever", "still", 0, false)
	})

	t.Run("capped by the broker's maximum", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, func(cfg *server.Config) { cfg.MaxSessionExpiry = 5 })
		_, ack := v5Dial(t, srv, v5ConnectPacket("se-capped", true, 100), false)
		// [MQTT-3.2.2.3.2] the CONNACK says which interval the broker uses.
		if !ack.Props.Has(codec.PropSessionExpiry) || ack.Props.SessionExpiry != 5 {
			t.Fatalf("CONNACK Session Expiry Interval present %v value %d, want 5",
				ack.Props.Has(codec.PropSessionExpiry), ack.Props.SessionExpiry)
		}
	})

	t.Run("DISCONNECT sets 0", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, nil)
		c, _ := v5Dial(t, srv, v5ConnectPacket("se-override", true, 10), false)
		v5MustSubscribe(t, c, 1, 0, v5Sub("se/override"))
		v5Disconnect(t, c, codec.NormalDisconnection, true, 0)
		v5Dial(t, srv, v5ConnectPacket("se-override", false, 10), false)
	})

	t.Run("DISCONNECT sets non-zero after connecting with 0", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, nil)
		c, _ := v5Dial(t, srv, v5ConnectPacket("se-bad", true, 0), false)
		d := codec.Disconnect{}
		d.Props.SessionExpiry = 5
		d.Props.Set(codec.PropSessionExpiry)
		c.Write(codec.AppendDisconnect(nil, &d, codec.Version5))
		// [MQTT-3.14.2-2] a Protocol Error, and the receiver of a DISCONNECT
		// answers it with a DISCONNECT of its own [MQTT-3.14.2.2.2].
		v5ExpectDisconnect(t, c, codec.ProtocolError, v5Wait)
		v5Dial(t, srv, v5ConnectPacket("se-bad", false, 0), false)
	})
}

// TestV5WillDelay checks the Will Delay Interval [MQTT-3.1.3-9]: the will is
// published when the delay or the session ends, whichever comes first, not
// at all if the client resumes the session in time, and a DISCONNECT with
// reason 0x04 publishes it [MQTT-3.14.4-3].
func TestV5WillDelay(t *testing.T) {
	t.Parallel()

	// delayed closes the willer's connection early in a second, checks that
	// the will did not go out at once, and returns when it went out to sub.
	delayed := func(t *testing.T, srv *server.Server, sub, willer *servertest.Conn, topic string) {
		t.Helper()
		v5StartOfSecond()
		willer.Close()
		servertest.Eventually(t, v5Wait, func() bool { return srv.Stats().Disconnects == 1 }, "the broker sees the connection end")
		if n := srv.Stats().WillsSent; n != 0 {
			t.Fatalf("will sent at once (%d wills), want it delayed", n)
		}
		pk, err := sub.ReadPacket(3*time.Second + v5Wait)
		if err != nil {
			t.Fatalf("no will within the delay: %v", err)
		}
		p := sub.DecodePublish(pk)
		if string(p.Topic) != topic || string(p.Payload) != "gone" {
			t.Fatalf("got %s=%s, want the will on %s", p.Topic, p.Payload, topic)
		}
	}

	t.Run("delay 1 s shorter than expiry 10 s", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, nil)
		sub := v5Client(t, srv, "wd-short-sub")
		v5MustSubscribe(t, sub, 1, 0, v5Sub("wd/short"))
		w, _ := v5Dial(t, srv, v5WithWill(v5ConnectPacket("wd-short", true, 10), "wd/short", "gone", 1), false)
		delayed(t, srv, sub, w, "wd/short")
		if n := srv.Stats().SessionsExpired; n != 0 {
			t.Fatalf("%d sessions expired: the will should go at the delay, before the session ends", n)
		}
	})

	t.Run("expiry 1 s shorter than delay 10 s", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, nil)
		sub := v5Client(t, srv, "wd-expiry-sub")
		v5MustSubscribe(t, sub, 1, 0, v5Sub("wd/expiry"))
		w, _ := v5Dial(t, srv, v5WithWill(v5ConnectPacket("wd-expiry", true, 1), "wd/expiry", "gone", 10), false)
		delayed(t, srv, sub, w, "wd/expiry")
		// The will went out because the session ended.
		v5WaitStat(t, v5Wait, "sessions expired", func() uint64 { return srv.Stats().SessionsExpired }, 1)
	})

	t.Run("reconnect cancels the delayed will", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, v5OneLoop)
		sub := v5Client(t, srv, "wd-cancel-sub")
		v5MustSubscribe(t, sub, 1, 0, v5Sub("wd/cancel/#"))
		w, _ := v5Dial(t, srv, v5WithWill(v5ConnectPacket("wd-cancel", true, 10), "wd/cancel/resumed", "gone", 3), false)
		taken, _ := v5Dial(t, srv, v5WithWill(v5ConnectPacket("wd-cancel-open", true, 10), "wd/cancel/taken", "gone", 3), false)
		ctl, _ := v5Dial(t, srv, v5WithWill(v5ConnectPacket("wd-cancel-control", true, 10), "wd/cancel/control", "gone", 3), false)
		disconnects := func(n uint64, what string) {
			t.Helper()
			servertest.Eventually(t, v5Wait, func() bool { return srv.Stats().Disconnects == n }, what)
		}

		// One client loses its connection and resumes the session at once.
		w.Close()
		disconnects(1, "the broker sees the first connection end")
		v5Dial(t, srv, v5ConnectPacket("wd-cancel", false, 10), true)
		// Another resumes while its old connection is still open: a take-over.
		v5Dial(t, srv, v5ConnectPacket("wd-cancel-open", false, 10), true)
		v5ExpectDisconnect(t, taken, codec.SessionTakenOver, v5Wait)
		disconnects(2, "the broker closes the taken-over connection")
		ctl.Close()
		disconnects(3, "the broker sees the control connection end")

		// Proving an absence takes a bounded wait; here it ends on an event:
		// the control's will has the same delay and its connection ended after
		// the others, and with one event loop the broker acts on deadlines in
		// order, so their wills, had they not been cancelled, would have
		// reached the subscriber before the control's.
		pk, err := sub.ReadPacket(4*time.Second + v5Wait)
		if err != nil {
			t.Fatalf("no control will: %v", err)
		}
		if p := sub.DecodePublish(pk); string(p.Topic) != "wd/cancel/control" {
			t.Fatalf("got %s=%s first, want the control's will: a resumed session's will was not cancelled", p.Topic, p.Payload)
		}
		if got := v5Fence(t, sub); len(got) != 0 {
			t.Fatalf("after the control's will got %v, want nothing", v5Topics(got))
		}
		if n := srv.Stats().WillsSent; n != 1 {
			t.Fatalf("%d wills sent, want only the control's", n)
		}
	})

	t.Run("DISCONNECT 0x04 sends the will", func(t *testing.T) {
		t.Parallel()
		srv := v5Start(t, v5OneLoop)
		sub := v5Client(t, srv, "wd-0x04-sub")
		v5MustSubscribe(t, sub, 1, 0, v5Sub("wd/0x04/#"))
		normal, _ := v5Dial(t, srv, v5WithWill(v5ConnectPacket("wd-normal", true, 0), "wd/0x04/normal", "gone", 0), false)
		wp := v5WithWill(v5ConnectPacket("wd-with", true, 0), "wd/0x04/with", "gone", 0)
		// The will's properties travel with it, user properties in order.
		wp.WillProps.ContentType = []byte("text/plain")
		wp.WillProps.Set(codec.PropContentType)
		wp.WillProps.User = []codec.UserProperty{{Key: []byte("b"), Value: []byte("2")}, {Key: []byte("a"), Value: []byte("1")}}
		with, _ := v5Dial(t, srv, wp, false)
		v5Disconnect(t, normal, codec.NormalDisconnection, false, 0) // [MQTT-3.14.4-3] will discarded
		v5Disconnect(t, with, codec.DisconnectWithWillMessage, false, 0)
		// One event loop: the normal DISCONNECT was handled first, so a will
		// it wrongly sent would arrive first.
		p := sub.ExpectMessage("wd/0x04/with", "gone", 0, false)
		if string(p.Props.ContentType) != "text/plain" || len(p.Props.User) != 2 ||
			string(p.Props.User[0].Key) != "b" || string(p.Props.User[1].Key) != "a" {
			t.Fatalf("will properties content type %q user %v, want text/plain and b=2, a=1", p.Props.ContentType, p.Props.User)
		}
		if got := v5Fence(t, sub); len(got) != 0 {
			t.Fatalf("after the will got %v, want nothing", v5Topics(got))
		}
	})
}
