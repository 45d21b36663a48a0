package server_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// wait is the deadline for anything a test expects to happen: generous, so
// that reaching it means broken, not slow.
const wait = servertest.Timeout

// authFunc adapts a function to server.Authenticator.
type authFunc func(*server.ConnInfo) codec.ReasonCode

func (f authFunc) Authenticate(i *server.ConnInfo) codec.ReasonCode { return f(i) }

// pahoOpts returns paho options for a 3.1.1 client of the broker at addr
// that never reconnects on its own.
func pahoOpts(addr net.Addr, id string, clean bool) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().
		AddBroker("tcp://" + addr.String()).
		SetClientID(id).
		SetCleanSession(clean).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(wait).
		SetWriteTimeout(wait).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(false)
}

// pahoConnect connects a paho client with opts and disconnects it in
// t.Cleanup. It fails the test unless the broker accepts.
func pahoConnect(t *testing.T, opts *mqtt.ClientOptions) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		t.Fatalf("paho connect %s: no CONNACK within %v", opts.ClientID, wait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("paho connect %s: %v", opts.ClientID, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// waitToken fails the test unless tok completes without error in time.
func waitToken(t *testing.T, tok mqtt.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(wait) {
		t.Fatalf("%s: not done within %v", what, wait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// inbox collects the messages a paho subscription receives.
type inbox chan mqtt.Message

func newInbox() inbox { return make(inbox, 256) }

func (in inbox) handler(_ mqtt.Client, m mqtt.Message) { in <- m }

// next returns the next message, failing the test if none arrives in time.
func (in inbox) next(t *testing.T) mqtt.Message {
	t.Helper()
	select {
	case m := <-in:
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return nil
	}
}

// expect reads the next message and checks its topic, payload and QoS.
func (in inbox) expect(t *testing.T, topic, payload string, qos byte) mqtt.Message {
	t.Helper()
	m := in.next(t)
	if m.Topic() != topic || string(m.Payload()) != payload || m.Qos() != qos {
		t.Fatalf("got message topic %q payload %q qos %d; want topic %q payload %q qos %d",
			m.Topic(), m.Payload(), m.Qos(), topic, payload, qos)
	}
	return m
}

// pahoSubscribe subscribes c to filter at qos, delivering to in.
func pahoSubscribe(t *testing.T, c mqtt.Client, filter string, qos byte, in inbox) {
	t.Helper()
	waitToken(t, c.Subscribe(filter, qos, in.handler), "subscribe "+filter)
}

// pahoPublish publishes and waits for the QoS flow to complete.
func pahoPublish(t *testing.T, c mqtt.Client, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	waitToken(t, c.Publish(topic, qos, retain, payload), fmt.Sprintf("publish %s qos %d", topic, qos))
}

// rawConnect builds a 3.1.1 CONNECT by hand: protocol name and level,
// flags, keepalive 60 and a client id, so tests can send what the codec's
// encoder would refuse to build.
func rawConnect(name string, level, flags byte, id string) []byte {
	body := []byte{0, byte(len(name))}
	body = append(body, name...)
	body = append(body, level, flags, 0, 60, 0, byte(len(id)))
	body = append(body, id...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

// healthy checks that the broker still serves clients: pub publishes on
// topic and sub, subscribed to it, receives the message.
func healthy(t *testing.T, pub, sub *servertest.Conn, topic, payload string) {
	t.Helper()
	pub.PublishAcked(topic, payload, 1, false, 1)
	sub.ExpectMessage(topic, payload, 0, false)
}

// fenced publishes a QoS 0 fence message from pub on topic and reads the
// subscriber's next packet, which must be it: whatever pub published before
// the fence and was due to sub would have arrived first, since deliveries
// from one publisher to one subscriber keep their order.
func fenced(t *testing.T, pub, sub *servertest.Conn, topic string) {
	t.Helper()
	pub.Publish(topic, "fence", 0, false, 0)
	sub.ExpectMessage(topic, "fence", 0, false)
}
