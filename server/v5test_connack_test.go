package server_test

import (
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
)

// TestV5ConnackProperties checks that CONNACK tells a v5 client the
// broker's limits [MQTT-3.2.2.3]: Receive Maximum, Maximum QoS, Retain
// Available, Maximum Packet Size, Topic Alias Maximum, the availability of
// wildcard, identified and shared subscriptions, the Assigned Client
// Identifier of a client that sent none, and the Server Keep Alive that
// replaces the client's keepalive and is then enforced.
func TestV5ConnackProperties(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, func(cfg *server.Config) {
		cfg.ReceiveMaximum = 7
		cfg.MaxQoS = 1
		cfg.RetainAvailable = false
		cfg.MaxPacketSize = 4096
		cfg.TopicAliasMaximum = 5
		cfg.MaxKeepAlive = 1
	})

	p := v5ConnectPacket("", true, 0) // empty client id [MQTT-3.1.3-6]
	p.KeepAlive = 60
	c, ack := v5Dial(t, srv, p, false)
	props := &ack.Props

	check := func(name string, id codec.PropID, got, want uint32) {
		t.Helper()
		if !props.Has(id) {
			t.Errorf("CONNACK lacks %s", name)
			return
		}
		if got != want {
			t.Errorf("CONNACK %s = %d, want %d", name, got, want)
		}
	}
	check("Receive Maximum", codec.PropReceiveMaximum, uint32(props.ReceiveMaximum), 7)
	check("Maximum QoS", codec.PropMaximumQoS, uint32(props.MaximumQoS), 1)
	check("Retain Available", codec.PropRetainAvailable, uint32(props.RetainAvailable), 0)
	check("Maximum Packet Size", codec.PropMaximumPacketSize, props.MaximumPacketSize, 4096)
	check("Topic Alias Maximum", codec.PropTopicAliasMaximum, uint32(props.TopicAliasMaximum), 5)
	// [MQTT-3.2.2-21] the client must use the Server Keep Alive.
	check("Server Keep Alive", codec.PropServerKeepAlive, uint32(props.ServerKeepAlive), 1)

	// Absent means available; present, it must say 1.
	for _, f := range []struct {
		name string
		id   codec.PropID
		v    byte
	}{
		{"Wildcard Subscription Available", codec.PropWildcardSubAvailable, props.WildcardSubAvailable},
		{"Subscription Identifiers Available", codec.PropSubIDAvailable, props.SubIDAvailable},
		{"Shared Subscription Available", codec.PropSharedSubAvailable, props.SharedSubAvailable},
	} {
		if props.Has(f.id) && f.v != 1 {
			t.Errorf("CONNACK %s = %d, want 1 (the broker supports it)", f.name, f.v)
		}
	}

	// The broker holds clients to what it announced.
	t.Run("announced limits are enforced", func(t *testing.T) {
		t.Parallel()
		c := v5Client(t, srv, "connack-limits")
		codes := v5Subscribe(t, c, 1, 0, codec.Subscription{Filter: []byte("connack/q2"), QoS: 2})
		if len(codes) != 1 || codes[0] != 1 {
			t.Errorf("SUBACK %v for QoS 2 with Maximum QoS 1, want granted QoS 1 [MQTT-3.2.2-11]", codes)
		}
		v5Send(c, v5Msg{topic: "connack/q2", payload: "x", qos: 2, pid: 1})
		v5ExpectDisconnect(t, c, codec.QoSNotSupported, v5Wait) // [MQTT-3.2.2-11]

		c = v5Client(t, srv, "connack-retain")
		v5Send(c, v5Msg{topic: "connack/retain", payload: "x", retain: true})
		v5ExpectDisconnect(t, c, codec.RetainNotSupported, v5Wait) // [MQTT-3.2.2-14]
	})

	// [MQTT-3.2.2-16] an empty client id gets an Assigned Client Identifier.
	assigned := string(props.AssignedClientID)
	if !props.Has(codec.PropAssignedClientID) || assigned == "" {
		t.Errorf("CONNACK to an empty client id lacks an Assigned Client Identifier")
	}

	// The assigned id is the session's real id: a second client without an
	// id gets another one, and connecting with that id takes it over.
	other, ack2 := v5Dial(t, srv, v5ConnectPacket("", true, 0), false)
	id2 := string(ack2.Props.AssignedClientID)
	if id2 == "" || id2 == assigned {
		t.Fatalf("second Assigned Client Identifier %q (first %q): want a new, non-empty one", id2, assigned)
	}
	// This one asks for keepalive 0 ("never"): it is told the maximum too.
	p3 := v5ConnectPacket(id2, false, 0)
	taker, ack3 := v5Dial(t, srv, p3, false)
	if !ack3.Props.Has(codec.PropServerKeepAlive) || ack3.Props.ServerKeepAlive != 1 {
		t.Errorf("CONNACK to keepalive 0 with a maximum of 1: Server Keep Alive present %v value %d, want 1",
			ack3.Props.Has(codec.PropServerKeepAlive), ack3.Props.ServerKeepAlive)
	}
	if ack3.Props.Has(codec.PropAssignedClientID) {
		t.Errorf("CONNACK to a client that sent an id carries an Assigned Client Identifier %q", ack3.Props.AssignedClientID)
	}
	v5ExpectDisconnect(t, other, codec.SessionTakenOver, v5Wait)

	// The first client asked for 60 s but was told 1 s: silent for 1.5 s, it
	// is disconnected with Keep Alive timeout; so is the one that asked for 0.
	// The wheel ticks once a second, hence the margin.
	v5ExpectDisconnect(t, c, codec.KeepAliveTimeout, 6*time.Second)
	v5ExpectDisconnect(t, taker, codec.KeepAliveTimeout, 6*time.Second)
}
