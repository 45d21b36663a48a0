package server_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

// TestV5MixedVersions checks that v5 and 3.1.1 clients exchange messages: a
// v5 PUBLISH with properties reaches 3.1.1 subscribers as a plain 3.1.1
// PUBLISH (no property bytes), and a 3.1.1 PUBLISH reaches v5 subscribers
// without properties.
func TestV5MixedVersions(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, nil)

	t.Run("v5 to 3.1.1", func(t *testing.T) {
		t.Parallel()
		raw := servertest.DialConnect(t, srv.Addr(), "mix-raw311", true, false)
		raw.MustSubscribe(1, 1, "mix/a")
		old, msgs := v5Paho3(t, srv, "mix-paho311")
		v5Token(t, old.Subscribe("mix/a", 1, nil), "paho.mqtt.golang subscribe")

		pub := v5Client(t, srv, "mix-v5pub")
		m := v5Msg{topic: "mix/a", payload: "hello", qos: 1, pid: 1}
		pr := &m.props
		pr.PayloadFormat, pr.MessageExpiry = 1, 60
		pr.ContentType, pr.ResponseTopic, pr.CorrelationData = []byte("text/plain"), []byte("mix/reply"), []byte{1, 2}
		pr.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
		pr.TopicAlias = 1
		for _, id := range []codec.PropID{codec.PropPayloadFormat, codec.PropMessageExpiry, codec.PropContentType,
			codec.PropResponseTopic, codec.PropCorrelationData, codec.PropTopicAlias} {
			pr.Set(id)
		}
		if rc := v5Publish(t, pub, m); rc != codec.Success {
			t.Fatalf("PUBACK %v", rc)
		}

		pk := raw.Expect(codec.PUBLISH)
		p := raw.DecodePublish(pk)
		raw.SendAck(codec.PUBACK, p.PacketID)
		want := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("mix/a"), Payload: []byte("hello"), QoS: 1, PacketID: p.PacketID}, codec.Version311)
		if !bytes.Equal(pk.Raw, want) {
			t.Fatalf("3.1.1 subscriber got % x, want the plain 3.1.1 PUBLISH % x", pk.Raw, want)
		}

		select {
		case got := <-msgs:
			if got.Topic() != "mix/a" || string(got.Payload()) != "hello" || got.Qos() != 1 {
				t.Fatalf("paho.mqtt.golang got %s=%s qos %d", got.Topic(), got.Payload(), got.Qos())
			}
		case <-time.After(v5Wait):
			t.Fatalf("paho.mqtt.golang subscriber got nothing within %v", v5Wait)
		}
	})

	t.Run("3.1.1 to v5", func(t *testing.T) {
		t.Parallel()
		raw := v5Client(t, srv, "mix-raw5")
		v5MustSubscribe(t, raw, 1, 0, v5Sub("mix/b"))
		neu, msgs := v5Paho(t, srv, "mix-paho5")
		if _, err := neu.Subscribe(v5Ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "mix/b", QoS: 1}}}); err != nil {
			t.Fatalf("paho.golang subscribe: %v", err)
		}

		old, _ := v5Paho3(t, srv, "mix-paho311pub")
		v5Token(t, old.Publish("mix/b", 1, false, "from 3.1.1"), "paho.mqtt.golang publish")

		p := raw.ExpectMessage("mix/b", "from 3.1.1", 1, false)
		raw.SendAck(codec.PUBACK, p.PacketID)
		if p.Props.Present != 0 || len(p.Props.User) != 0 || len(p.Props.SubscriptionIDs) != 0 {
			t.Fatalf("v5 subscriber got properties %+v on a 3.1.1 message, want none", p.Props)
		}
		got := v5PahoNext(t, msgs)
		if got.Topic != "mix/b" || string(got.Payload) != "from 3.1.1" || got.QoS != 1 {
			t.Fatalf("paho.golang got %s=%s qos %d", got.Topic, got.Payload, got.QoS)
		}
	})
}
