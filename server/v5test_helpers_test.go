package server_test

// Helpers of the MQTT 5.0 integration tests (v5test_*_test.go). They build on
// servertest's raw client and add what MQTT 5 needs: CONNECT and PUBLISH with
// properties, DISCONNECT reason codes, fences that prove an absence, and a
// paho.golang client. Every name here starts with v5 so that it cannot clash
// with the 3.1.1 tests that share the package.

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// v5Wait is the deadline for anything a test expects to happen: generous,
// so that reaching it means broken, not slow.
const v5Wait = servertest.Timeout

// v5Start starts a broker for one test (see servertest.Start).
func v5Start(t *testing.T, configure func(*server.Config)) *server.Server {
	t.Helper()
	return servertest.Start(t, configure)
}

// v5OneLoop makes the broker run a single event loop. Tests that prove an
// absence use it: with one loop, everything the broker does for any
// connection happens in the order its input arrived, so a fence on one
// connection orders it against the others.
func v5OneLoop(cfg *server.Config) { cfg.EventLoops = 1 }

// v5ConnectPacket is an MQTT 5 CONNECT with the given client id, Clean Start
// and Session Expiry Interval (0: property absent, which means 0).
func v5ConnectPacket(id string, clean bool, expiry uint32) *codec.Connect {
	p := &codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte(id), CleanStart: clean}
	if expiry != 0 {
		p.Props.SessionExpiry = expiry
		p.Props.Set(codec.PropSessionExpiry)
	}
	return p
}

// v5WithWill adds a will (topic, payload, QoS 0) with the Will Delay
// Interval delay (0: property absent).
func v5WithWill(p *codec.Connect, topic, payload string, delay uint32) *codec.Connect {
	p.WillFlag, p.WillTopic, p.WillPayload = true, []byte(topic), []byte(payload)
	if delay != 0 {
		p.WillProps.WillDelay = delay
		p.WillProps.Set(codec.PropWillDelay)
	}
	return p
}

// v5Dial connects with p and fails the test unless the broker accepts it
// with the given Session Present flag. It returns the connection and the
// CONNACK.
func v5Dial(t *testing.T, srv *server.Server, p *codec.Connect, present bool) (*servertest.Conn, codec.Connack) {
	t.Helper()
	c := servertest.Dial(t, srv.Addr())
	ack := c.Connect(p)
	if ack.ReasonCode != codec.Success || ack.SessionPresent != present {
		t.Fatalf("CONNACK for %q: reason %v, session present %v; want Success, session present %v",
			p.ClientID, ack.ReasonCode, ack.SessionPresent, present)
	}
	return c, ack
}

// v5Client connects a fresh MQTT 5 session (Clean Start, expiry 0) as id.
func v5Client(t *testing.T, srv *server.Server, id string) *servertest.Conn {
	t.Helper()
	c, _ := v5Dial(t, srv, v5ConnectPacket(id, true, 0), false)
	return c
}

// v5ExpectDisconnect reads until the broker closes c and fails the test
// unless the last packet before the close is a DISCONNECT with reason rc
// [MQTT-4.13.1-1]. It returns the packets that came before the DISCONNECT.
func v5ExpectDisconnect(t *testing.T, c *servertest.Conn, rc codec.ReasonCode, timeout time.Duration) []servertest.Packet {
	t.Helper()
	got := c.ExpectClosed(timeout)
	if len(got) == 0 || got[len(got)-1].Type() != codec.DISCONNECT {
		t.Fatalf("broker closed without DISCONNECT %v; packets before the close: %v", rc, got)
	}
	last := got[len(got)-1]
	var d codec.Disconnect
	if err := d.Decode(last.Body(), codec.Version5); err != nil {
		t.Fatalf("broker sent a DISCONNECT that does not decode (%v): %v", last, err)
	}
	if d.ReasonCode != rc {
		t.Fatalf("DISCONNECT reason %v, want %v", d.ReasonCode, rc)
	}
	return got[:len(got)-1]
}

// v5Msg describes a PUBLISH to send.
type v5Msg struct {
	topic, payload string
	qos            byte
	retain         bool
	pid            uint16
	props          codec.Properties
}

// v5Send writes m as an MQTT 5 PUBLISH without waiting for anything.
func v5Send(c *servertest.Conn, m v5Msg) {
	p := codec.Publish{Topic: []byte(m.topic), Payload: []byte(m.payload), QoS: m.qos,
		Retain: m.retain, PacketID: m.pid, Props: m.props}
	c.Write(codec.AppendPublish(nil, &p, codec.Version5))
}

// v5Publish sends m and completes its QoS flow, returning the reason code
// of the PUBACK (QoS 1) or PUBREC (QoS 2); Success for QoS 0. The
// acknowledgements must be the next packets on c.
func v5Publish(t *testing.T, c *servertest.Conn, m v5Msg) codec.ReasonCode {
	t.Helper()
	v5Send(c, m)
	switch m.qos {
	case 1:
		return v5ExpectAck(t, c, codec.PUBACK, m.pid).ReasonCode
	case 2:
		rc := v5ExpectAck(t, c, codec.PUBREC, m.pid).ReasonCode
		if rc.IsError() {
			return rc
		}
		c.SendAck(codec.PUBREL, m.pid)
		v5ExpectAck(t, c, codec.PUBCOMP, m.pid)
		return rc
	}
	return codec.Success
}

// v5ExpectAck reads the next packet and fails the test unless it is an
// acknowledgement of type typ for pid.
func v5ExpectAck(t *testing.T, c *servertest.Conn, typ codec.PacketType, pid uint16) codec.Ack {
	t.Helper()
	pk := c.Expect(typ)
	var a codec.Ack
	if err := a.Decode(typ, pk.Body(), codec.Version5); err != nil {
		t.Fatalf("bad %s %v: %v", typ, pk, err)
	}
	if a.PacketID != pid {
		t.Fatalf("%s for packet id %d, want %d", typ, a.PacketID, pid)
	}
	return a
}

// v5Sub is a subscription to filter at QoS 1 with default options.
func v5Sub(filter string) codec.Subscription {
	return codec.Subscription{Filter: []byte(filter), QoS: 1}
}

// v5Subscribe sends one SUBSCRIBE (with Subscription Identifier id unless
// it is 0) and returns the SUBACK reason codes.
func v5Subscribe(t *testing.T, c *servertest.Conn, pid uint16, id uint32, subs ...codec.Subscription) []codec.ReasonCode {
	t.Helper()
	p := codec.Subscribe{PacketID: pid, Subs: subs}
	if id != 0 {
		p.Props.SubscriptionIDs = []uint32{id}
	}
	return c.SubscribeWith(&p)
}

// v5MustSubscribe subscribes and fails the test unless every filter is
// granted the QoS it asked for.
func v5MustSubscribe(t *testing.T, c *servertest.Conn, pid uint16, id uint32, subs ...codec.Subscription) {
	t.Helper()
	codes := v5Subscribe(t, c, pid, id, subs...)
	for i, rc := range codes {
		if byte(rc) != subs[i].QoS {
			t.Fatalf("SUBACK code %v for %q, want granted QoS %d", rc, subs[i].Filter, subs[i].QoS)
		}
	}
}

// v5Fence sends PINGREQ and returns the PUBLISH packets that arrive before
// the PINGRESP, failing on any other packet. Everything the broker wrote to
// c before it read the PINGREQ has then arrived, so an empty result proves
// that nothing was queued for c by then.
func v5Fence(t *testing.T, c *servertest.Conn) []*codec.Publish {
	t.Helper()
	return c.Fence(false)
}

// v5Topics lists the topics (and payloads) of ps for failure messages.
func v5Topics(ps []*codec.Publish) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p.Topic) + "=" + string(p.Payload)
	}
	return out
}

// v5Paho connects a paho.golang MQTT 5 client as id and returns it with a
// channel of the messages it receives (acknowledged automatically). The
// client is disconnected in t.Cleanup.
func v5Paho(t *testing.T, srv *server.Server, id string) (*paho.Client, <-chan *paho.Publish) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.Addr().String(), v5Wait)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	msgs := make(chan *paho.Publish, 256)
	c := paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				msgs <- pr.Packet
				return true, nil
			},
		},
		PacketTimeout: v5Wait,
	})
	ctx, cancel := context.WithTimeout(context.Background(), v5Wait)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if err != nil {
		_ = nc.Close()
		t.Fatalf("paho.golang connect %s: %v", id, err)
	}
	if ack.ReasonCode != 0 {
		t.Fatalf("paho.golang connect %s: reason %#x", id, ack.ReasonCode)
	}
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		_ = nc.Close()
	})
	return c, msgs
}

// v5PahoNext returns the next message of msgs, failing the test if none
// arrives in time.
func v5PahoNext(t *testing.T, msgs <-chan *paho.Publish) *paho.Publish {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(v5Wait):
		t.Fatalf("paho.golang client: no message within %v", v5Wait)
		return nil
	}
}

// v5Ctx is a context for one paho.golang call.
func v5Ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), v5Wait)
	t.Cleanup(cancel)
	return ctx
}
