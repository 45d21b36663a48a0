package server_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/cp7/cp7/codec"
)

// TestV5SubscriptionIdentifiers checks that a message matching several
// subscriptions of one client is sent once, carrying the identifiers of all
// of them that have one [MQTT-3.3.4-3, 3.3.4-4].
func TestV5SubscriptionIdentifiers(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, nil)
	sub := v5Client(t, srv, "sid-sub")
	v5MustSubscribe(t, sub, 1, 1, v5Sub("sid/+"))
	v5MustSubscribe(t, sub, 2, 2, v5Sub("sid/x"))
	v5MustSubscribe(t, sub, 3, 0, v5Sub("sid/#")) // no identifier
	pub := v5Client(t, srv, "sid-pub")

	v5Publish(t, pub, v5Msg{topic: "sid/x", payload: "both", qos: 1, pid: 1})
	// A fence message from the same publisher, matching sid/+ and sid/#: a
	// second copy of the first message would arrive before it, since
	// deliveries from one publisher to one subscriber keep their order.
	v5Publish(t, pub, v5Msg{topic: "sid/y", payload: "fence", qos: 1, pid: 2})

	p := sub.ExpectMessage("sid/x", "both", 1, false)
	sub.SendAck(codec.PUBACK, p.PacketID)
	ids := slices.Clone(p.Props.SubscriptionIDs)
	slices.Sort(ids)
	if !slices.Equal(ids, []uint32{1, 2}) {
		t.Fatalf("Subscription Identifiers %v, want 1 and 2 in one PUBLISH", p.Props.SubscriptionIDs)
	}
	p = sub.ExpectPublish()
	sub.SendAck(codec.PUBACK, p.PacketID)
	if string(p.Topic) != "sid/y" {
		t.Fatalf("got %s=%s after the first copy, want the fence on sid/y: the message was sent twice", p.Topic, p.Payload)
	}
	if !slices.Equal(p.Props.SubscriptionIDs, []uint32{1}) {
		t.Fatalf("fence's Subscription Identifiers %v, want only 1", p.Props.SubscriptionIDs)
	}

	// Subscribing again to a filter replaces the subscription and so its
	// identifier [MQTT-3.8.4-3]: without one, none is sent.
	v5MustSubscribe(t, sub, 4, 0, v5Sub("sid/x"))
	v5MustSubscribe(t, sub, 5, 0, v5Sub("sid/+"))
	v5Publish(t, pub, v5Msg{topic: "sid/x", payload: "none", qos: 1, pid: 4})
	p = sub.ExpectMessage("sid/x", "none", 1, false)
	sub.SendAck(codec.PUBACK, p.PacketID)
	if len(p.Props.SubscriptionIDs) != 0 {
		t.Fatalf("after subscribing again without identifiers got %v", p.Props.SubscriptionIDs)
	}

	// Retained messages sent on subscribing carry the new subscription's
	// identifier too.
	v5Publish(t, pub, v5Msg{topic: "sid/retained", payload: "r", qos: 1, pid: 3, retain: true})
	late := v5Client(t, srv, "sid-late")
	v5MustSubscribe(t, late, 1, 7, v5Sub("sid/retained"))
	p = late.ExpectMessage("sid/retained", "r", 1, true)
	if !slices.Equal(p.Props.SubscriptionIDs, []uint32{7}) {
		t.Fatalf("retained message's Subscription Identifiers %v, want 7", p.Props.SubscriptionIDs)
	}
}

// TestV5SubscribeOptions checks the v5 subscription options: No Local
// [MQTT-3.8.3-3], Retain As Published [MQTT-3.3.1-12, 3.3.1-13] and Retain
// Handling [MQTT-3.3.1-9..11].
func TestV5SubscribeOptions(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, nil)

	t.Run("No Local", func(t *testing.T) {
		t.Parallel()
		self := v5Client(t, srv, "nl-self")
		sub := codec.Subscription{Filter: []byte("nl/t"), QoS: 1, NoLocal: true}
		v5MustSubscribe(t, self, 1, 0, sub)
		other := v5Client(t, srv, "nl-other")
		v5MustSubscribe(t, other, 1, 0, sub)

		// A delivery to the publisher itself would be written before its
		// PUBACK, which v5Publish requires to be the next packet.
		if rc := v5Publish(t, self, v5Msg{topic: "nl/t", payload: "own", qos: 1, pid: 1}); rc != codec.Success {
			t.Fatalf("PUBACK %v, want Success (another client subscribes)", rc)
		}
		m := other.ExpectMessage("nl/t", "own", 1, false)
		other.SendAck(codec.PUBACK, m.PacketID)
		// No Local only filters the client's own messages.
		v5Publish(t, other, v5Msg{topic: "nl/t", payload: "theirs", qos: 1, pid: 1})
		m = self.ExpectMessage("nl/t", "theirs", 1, false)
		self.SendAck(codec.PUBACK, m.PacketID)
		if got := v5Fence(t, self); len(got) != 0 {
			t.Fatalf("No Local subscriber then got %v", v5Topics(got))
		}
	})

	t.Run("Retain As Published", func(t *testing.T) {
		t.Parallel()
		keep := v5Client(t, srv, "rap-keep")
		v5MustSubscribe(t, keep, 1, 0, codec.Subscription{Filter: []byte("rap/t"), RetainAsPublished: true})
		plain := v5Client(t, srv, "rap-clear")
		v5MustSubscribe(t, plain, 1, 0, codec.Subscription{Filter: []byte("rap/t")})
		pub := v5Client(t, srv, "rap-pub")
		v5Publish(t, pub, v5Msg{topic: "rap/t", payload: "r", retain: true})
		v5Publish(t, pub, v5Msg{topic: "rap/t", payload: "n"})
		keep.ExpectMessage("rap/t", "r", 0, true)   // retain flag kept
		plain.ExpectMessage("rap/t", "r", 0, false) // cleared on a normal delivery
		keep.ExpectMessage("rap/t", "n", 0, false)
		plain.ExpectMessage("rap/t", "n", 0, false)
	})

	t.Run("Retain Handling", func(t *testing.T) {
		t.Parallel()
		pub := v5Client(t, srv, "rh-pub")
		v5Publish(t, pub, v5Msg{topic: "rh/t", payload: "kept", qos: 1, pid: 1, retain: true})
		for _, tc := range []struct {
			rh           byte
			first, again int // retained messages on subscribing, then on subscribing again
		}{
			{0, 1, 1}, // always
			{1, 1, 0}, // only for a new subscription
			{2, 0, 0}, // never
		} {
			c := v5Client(t, srv, fmt.Sprint("rh-", tc.rh))
			for i, want := range []int{tc.first, tc.again} {
				s := codec.Subscription{Filter: []byte("rh/t"), RetainHandling: tc.rh}
				v5MustSubscribe(t, c, uint16(i+1), 0, s)
				got := v5Fence(t, c)
				if len(got) != want {
					t.Fatalf("Retain Handling %d, subscription %d: got %v, want %d retained message(s)", tc.rh, i+1, v5Topics(got), want)
				}
				for _, p := range got {
					if !p.Retain || string(p.Payload) != "kept" {
						t.Fatalf("Retain Handling %d: retained message %s=%s retain %v, want kept with retain set", tc.rh, p.Topic, p.Payload, p.Retain)
					}
				}
			}
		}
	})
}

// TestV5RequestResponse checks that Response Topic and Correlation Data reach
// the responder, and that Payload Format Indicator, Content Type and User
// Properties are forwarded unchanged, user properties in order
// [MQTT-3.3.2-15..20], using paho.golang on both ends and a raw observer for
// the bytes.
func TestV5RequestResponse(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, nil)
	requester, replies := v5Paho(t, srv, "rr-requester")
	responder, requests := v5Paho(t, srv, "rr-responder")
	observer := v5Client(t, srv, "rr-observer")
	v5MustSubscribe(t, observer, 1, 0, v5Sub("rr/request"))
	for c, filter := range map[*paho.Client]string{requester: "rr/reply/requester", responder: "rr/request"} {
		if _, err := c.Subscribe(v5Ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
			t.Fatalf("subscribe %s: %v", filter, err)
		}
	}

	format := byte(1)
	corr := []byte{0, 1, 2, 0xFF}
	user := paho.UserProperties{{Key: "k", Value: "2"}, {Key: "a", Value: "x"}, {Key: "k", Value: "1"}}
	_, err := requester.Publish(v5Ctx(t), &paho.Publish{
		Topic: "rr/request", QoS: 1, Payload: []byte(`{"q":1}`),
		Properties: &paho.PublishProperties{
			ResponseTopic: "rr/reply/requester", CorrelationData: corr,
			PayloadFormat: &format, ContentType: "application/json", User: user,
		},
	})
	if err != nil {
		t.Fatalf("publish request: %v", err)
	}

	req := v5PahoNext(t, requests)
	rp := req.Properties
	if rp == nil || rp.ResponseTopic != "rr/reply/requester" || !bytes.Equal(rp.CorrelationData, corr) ||
		rp.PayloadFormat == nil || *rp.PayloadFormat != 1 || rp.ContentType != "application/json" ||
		!slices.Equal(rp.User, user) {
		t.Fatalf("request properties %+v, want the requester's unchanged", rp)
	}

	// The same at the byte level, with the user properties' order.
	raw := observer.ExpectMessage("rr/request", `{"q":1}`, 1, false)
	observer.SendAck(codec.PUBACK, raw.PacketID)
	var pairs []string
	for _, u := range raw.Props.User {
		pairs = append(pairs, string(u.Key)+"="+string(u.Value))
	}
	if !slices.Equal(pairs, []string{"k=2", "a=x", "k=1"}) || string(raw.Props.ResponseTopic) != "rr/reply/requester" ||
		!bytes.Equal(raw.Props.CorrelationData, corr) || raw.Props.PayloadFormat != 1 || !raw.Props.Has(codec.PropPayloadFormat) ||
		string(raw.Props.ContentType) != "application/json" {
		t.Fatalf("raw request: user %v response %q correlation %x format %d content %q", pairs,
			raw.Props.ResponseTopic, raw.Props.CorrelationData, raw.Props.PayloadFormat, raw.Props.ContentType)
	}

	// The responder answers on the Response Topic with the Correlation Data.
	_, err = responder.Publish(v5Ctx(t), &paho.Publish{
		Topic: rp.ResponseTopic, QoS: 1, Payload: []byte(`{"a":2}`),
		Properties: &paho.PublishProperties{CorrelationData: rp.CorrelationData},
	})
	if err != nil {
		t.Fatalf("publish reply: %v", err)
	}
	reply := v5PahoNext(t, replies)
	if reply.Topic != "rr/reply/requester" || string(reply.Payload) != `{"a":2}` ||
		reply.Properties == nil || !bytes.Equal(reply.Properties.CorrelationData, corr) {
		t.Fatalf("reply %s %s props %+v, want the correlation data back", reply.Topic, reply.Payload, reply.Properties)
	}
}
