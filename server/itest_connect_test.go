package server_test

import (
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestConnectReturnCodes checks every 3.1.1 CONNACK return code the broker
// can give [MQTT-3.2.2.3]: a refusal is followed by closing the connection
// [MQTT-3.2.2-5].
func TestConnectReturnCodes(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) {
		c.MaxKeepAlive = 10
		c.Auth = authFunc(func(i *server.ConnInfo) codec.ReasonCode {
			switch string(i.Username) {
			case "bad-password":
				return codec.BadUserNameOrPassword
			case "not-authorized":
				return codec.NotAuthorized
			case "unavailable":
				return codec.ServerUnavailable
			}
			return codec.Success
		})
	})
	withUser := func(p *codec.Connect, user string) *codec.Connect {
		p.UsernameFlag, p.Username = true, []byte(user)
		return p
	}
	cases := []struct {
		name    string
		connect []byte
		version byte
		want    byte
	}{
		{"0 accepted", codec.AppendConnect(nil, servertest.NewConnect("rc-ok", true, 5)), 4, codec.ConnAccepted},
		{"0 accepted with keepalive at the maximum", codec.AppendConnect(nil, servertest.NewConnect("rc-ka10", true, 10)), 4, codec.ConnAccepted},
		// [MQTT-3.1.2-2] level 6 of "MQTT" is unknown.
		{"1 unsupported protocol level", rawConnect("MQTT", 6, 0x02, "rc-level6"), 4, codec.ConnRefusedProtocolVersion},
		{"1 MQIsdp with level 4", rawConnect("MQIsdp", 4, 0x02, "rc-mqisdp4"), 4, codec.ConnRefusedProtocolVersion},
		// [MQTT-3.1.3-8] an empty id needs clean session 1.
		{"2 empty id without clean session", codec.AppendConnect(nil, servertest.NewConnect("", false, 5)), 4, codec.ConnRefusedIdentifierRejected},
		{"2 keepalive above the maximum", codec.AppendConnect(nil, servertest.NewConnect("rc-ka20", true, 20)), 4, codec.ConnRefusedIdentifierRejected},
		{"2 keepalive 0 with a maximum", codec.AppendConnect(nil, servertest.NewConnect("rc-ka0", true, 0)), 4, codec.ConnRefusedIdentifierRejected},
		{"3 server unavailable", codec.AppendConnect(nil, withUser(servertest.NewConnect("rc-3", true, 5), "unavailable")), 4, codec.ConnRefusedServerUnavailable},
		{"4 bad user name or password", codec.AppendConnect(nil, withUser(servertest.NewConnect("rc-4", true, 5), "bad-password")), 4, codec.ConnRefusedBadUsernamePassword},
		{"5 not authorized", codec.AppendConnect(nil, withUser(servertest.NewConnect("rc-5", true, 5), "not-authorized")), 4, codec.ConnRefusedNotAuthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := servertest.Dial(t, srv.Addr())
			c.Version = tc.version
			c.Write(tc.connect)
			ack := c.ExpectConnack()
			if byte(ack.ReasonCode) != tc.want {
				t.Fatalf("CONNACK return code %d, want %d", ack.ReasonCode, tc.want)
			}
			if ack.SessionPresent {
				t.Fatalf("CONNACK session present 1 for a new or refused session") // [MQTT-3.2.2-4]
			}
			if tc.want != codec.ConnAccepted {
				if extra := c.ExpectClosed(wait); len(extra) > 0 {
					t.Fatalf("packets after a refusing CONNACK: %v", extra)
				}
				return
			}
			c.Ping() // accepted: the connection works
		})
	}
}

// TestConnectProtocolViolationsClose checks the CONNECT violations that end
// the connection, with no CONNACK where the spec says so.
func TestConnectProtocolViolationsClose(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	connect := codec.AppendConnect(nil, servertest.NewConnect("", true, 0))
	cases := []struct {
		name string
		send [][]byte
		// acks is how many CONNACKs may come before the close (all with code 0).
		acks int
	}{
		// [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
		{"second CONNECT", [][]byte{codec.AppendConnect(nil, servertest.NewConnect("twice", true, 0)), codec.AppendConnect(nil, servertest.NewConnect("twice", true, 0))}, 1},
		// [MQTT-3.1.2-1] an unknown protocol name: close without CONNACK.
		{"wrong protocol name", [][]byte{rawConnect("MQTX", 4, 0x02, "name")}, 0},
		{"lower-case protocol name", [][]byte{rawConnect("mqtt", 4, 0x02, "name2")}, 0},
		// [MQTT-3.1.2-3] the reserved flag must be 0.
		{"reserved flag set", [][]byte{rawConnect("MQTT", 4, 0x03, "reserved")}, 0},
		// [MQTT-3.1.0-1] the first packet must be CONNECT.
		{"PINGREQ first", [][]byte{codec.AppendPingreq(nil)}, 0},
		{"PUBLISH first", [][]byte{codec.AppendPublish(nil, &codec.Publish{Topic: []byte("a"), Payload: []byte("x")}, 4)}, 0},
		{"SUBSCRIBE first", [][]byte{codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("a")}}}, 4)}, 0},
		{"DISCONNECT first", [][]byte{{0xE0, 0x00}}, 0},
		{"CONNACK from a client", [][]byte{{0x20, 0x02, 0x00, 0x00}}, 0},
		{"CONNECT then CONNACK", [][]byte{connect, {0x20, 0x02, 0x00, 0x00}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := servertest.Dial(t, srv.Addr())
			for _, b := range tc.send {
				c.Write(b)
			}
			got := c.ExpectClosed(wait)
			if len(got) != tc.acks {
				t.Fatalf("got %d packets before the close (%v), want %d CONNACK", len(got), got, tc.acks)
			}
			for _, p := range got {
				if p.Type() != codec.CONNACK || p.Body()[1] != 0 {
					t.Fatalf("unexpected packet before the close: %v", p)
				}
			}
		})
	}
}

// TestConnectEmptyIDAssigned checks that a 3.1.1 client with an empty id and
// clean session 1 is accepted with an id the broker makes up [MQTT-3.1.3-6],
// and that two such clients do not take each other over.
func TestConnectEmptyIDAssigned(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	a := servertest.Dial(t, srv.Addr())
	a.MustConnect(servertest.NewConnect("", true, 0), false)
	b := servertest.Dial(t, srv.Addr())
	b.MustConnect(servertest.NewConnect("", true, 0), false)
	a.MustSubscribe(1, 1, "anon/a")
	b.PublishAcked("anon/a", "hello", 1, false, 1)
	p := a.ExpectMessage("anon/a", "hello", 1, false)
	a.SendAck(codec.PUBACK, p.PacketID)
	a.Ping()
	b.Ping()
	if n := srv.Stats().Sessions; n != 2 {
		t.Fatalf("%d sessions, want 2 (one per anonymous client)", n)
	}
}

// TestConnectMQTT31 checks that an MQTT 3.1 client ("MQIsdp", level 3)
// connects, subscribes and receives.
func TestConnectMQTT31(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	c := servertest.Dial(t, srv.Addr())
	c.MustConnect(&codec.Connect{ProtocolVersion: codec.Version31, ClientID: []byte("old-client"), CleanStart: true, KeepAlive: 30}, false)
	c.MustSubscribe(1, 1, "v31/t")
	pub := servertest.Dial(t, srv.Addr())
	pub.MustConnect(&codec.Connect{ProtocolVersion: codec.Version31, ClientID: []byte("old-publisher"), CleanStart: true}, false)
	pub.PublishAcked("v31/t", "from 3.1", 1, false, 7)
	p := c.ExpectMessage("v31/t", "from 3.1", 1, false)
	c.SendAck(codec.PUBACK, p.PacketID)
	c.Ping()

	// 3.1 requires a client id [MQTT 3.1 §3.1]: an empty one is refused.
	d := servertest.Dial(t, srv.Addr())
	ack := d.Connect(&codec.Connect{ProtocolVersion: codec.Version31, CleanStart: true})
	if byte(ack.ReasonCode) != codec.ConnRefusedIdentifierRejected {
		t.Fatalf("3.1 CONNECT with an empty id: return code %d, want 2", ack.ReasonCode)
	}
	d.ExpectClosed(wait)
}

// TestConnectTimeout checks that a connection that sends no CONNECT is
// closed after ConnectTimeout, and one that sends half a CONNECT too.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.ConnectTimeout = time.Second })
	silent := servertest.Dial(t, srv.Addr())
	partial := servertest.Dial(t, srv.Addr())
	connect := codec.AppendConnect(nil, servertest.NewConnect("slowpoke", true, 0))
	partial.Write(connect[:len(connect)/2])
	start := time.Now()
	if got := silent.ExpectClosed(wait); len(got) > 0 {
		t.Fatalf("packets to a connection that never sent CONNECT: %v", got)
	}
	partial.ExpectClosed(wait)
	t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
	servertest.Eventually(t, wait, func() bool { return srv.Stats().ConnectTimeouts == 2 }, "ConnectTimeouts == 2")
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 0 }, "no connections left")

	// A prompt client on the same broker is not affected.
	c := servertest.DialConnect(t, srv.Addr(), "prompt", true, false)
	c.Ping()
}
