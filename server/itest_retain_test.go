package server_test

import (
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

// TestRetained checks retained messages [MQTT-3.3.1-5..11] (3.1.1): set, replaced,
// deleted by an empty payload; sent on subscribe, through wildcards too, with
// the retain flag set; a delivery to an existing subscriber has it cleared.
func TestRetained(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "ret-pub", true, false)
	existing := servertest.DialConnect(t, srv.Addr(), "ret-existing", true, false)
	existing.MustSubscribe(1, 1, "r/#")

	// Set: the existing subscriber gets a normal delivery, retain 0
	// [MQTT-3.3.1-9].
	pub.PublishAcked("r/1", "v1", 1, true, 1)
	m := existing.ExpectMessage("r/1", "v1", 1, false)
	existing.SendAck(codec.PUBACK, m.PacketID)
	if n := srv.Stats().Retained; n != 1 {
		t.Fatalf("Stats().Retained = %d, want 1", n)
	}
	// A new subscription gets it with retain 1 [MQTT-3.3.1-8], at the
	// subscription's QoS, after the SUBACK.
	late := servertest.DialConnect(t, srv.Addr(), "ret-late", true, false)
	late.MustSubscribe(1, 0, "r/1")
	late.ExpectMessage("r/1", "v1", 0, true)

	// Replace: one retained message per topic.
	pub.PublishAcked("r/1", "v2", 1, true, 2)
	existing.SendAck(codec.PUBACK, existing.ExpectMessage("r/1", "v2", 1, false).PacketID)
	late.ExpectMessage("r/1", "v2", 0, false)
	pub.PublishAcked("r/2", "other", 0, true, 0)
	existing.ExpectMessage("r/2", "other", 0, false)

	for _, filter := range []string{"r/+", "r/#", "+/1", "#"} {
		c := servertest.DialConnect(t, srv.Addr(), "ret-wild", true, false)
		c.MustSubscribe(1, 2, filter)
		got := map[string]string{}
		want := map[string]string{"r/1": "v2", "r/2": "other"}
		if filter == "+/1" {
			want = map[string]string{"r/1": "v2"}
		}
		for range want {
			p := c.ExpectPublish()
			if !p.Retain {
				t.Fatalf("retained %q through %q sent with retain 0", p.Topic, filter)
			}
			if p.QoS != 1 && string(p.Topic) == "r/1" || p.QoS != 0 && string(p.Topic) == "r/2" {
				t.Fatalf("retained %q through %q at QoS %d, want the stored QoS (1 for r/1, 0 for r/2)", p.Topic, filter, p.QoS)
			}
			got[string(p.Topic)] = string(p.Payload)
			if p.QoS > 0 {
				c.SendAck(codec.PUBACK, p.PacketID)
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("retained through %q: got %v, want %v", filter, got, want)
			}
		}
		c.Ping() // and nothing more
		c.Disconnect()
	}

	// Delete: an empty retained payload is delivered to existing subscribers
	// as normal and removes the stored message [MQTT-3.3.1-10]; it is not
	// stored itself [MQTT-3.3.1-11].
	pub.PublishAcked("r/1", "", 1, true, 3)
	existing.SendAck(codec.PUBACK, existing.ExpectMessage("r/1", "", 1, false).PacketID)
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Retained == 1 }, "Stats().Retained == 1 after the delete")
	c := servertest.DialConnect(t, srv.Addr(), "ret-after-delete", true, false)
	c.MustSubscribe(1, 1, "r/1")
	c.Ping() // no retained message for r/1
	c.MustSubscribe(2, 1, "r/2")
	c.ExpectMessage("r/2", "other", 0, true)
}
