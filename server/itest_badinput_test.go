package server_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// publishRaw builds a 3.1.1 PUBLISH QoS 0 with any topic bytes, valid or
// not, which the codec's encoder would not check either.
func publishRaw(topic []byte, payload string) []byte {
	body := append([]byte{byte(len(topic) >> 8), byte(len(topic))}, topic...)
	body = append(body, payload...)
	return append(codec.AppendFixedHeader(nil, codec.PUBLISH, 0, len(body)), body...)
}

// TestBadInput sends malformed and forbidden packets. Each time only the
// offending connection is closed [MQTT-4.8.0-1 (3.1.1 §4.8)], the broker
// logs it with the client id and the reason, and a client connected all
// along keeps publishing and receiving.
func TestBadInput(t *testing.T) {
	t.Parallel()
	srv, log := servertest.StartLogged(t, func(c *server.Config) { c.MaxPacketSize = 1024 })
	okPub := servertest.DialConnect(t, srv.Addr(), "ok-pub", true, false)
	okSub := servertest.DialConnect(t, srv.Addr(), "ok-sub", true, false)
	okSub.MustSubscribe(1, 0, "ok/t")

	cases := []struct {
		name      string
		connected bool   // send a valid CONNECT first
		send      []byte // then this
	}{
		// [MQTT-1.5.5] (3.1.1 §2.2.3) at most four bytes of remaining length.
		{"remaining length of 5 bytes", true, []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}},
		{"remaining length of 5 bytes before CONNECT", false, []byte{0x10, 0x80, 0x80, 0x80, 0x80, 0x01}},
		// [MQTT-1.5.3-1] topic names are well-formed UTF-8.
		{"invalid UTF-8 in topic", true, publishRaw([]byte{'a', '/', 0xC3, 0x28}, "x")},
		{"UTF-16 surrogate in topic", true, publishRaw([]byte{'a', 0xED, 0xA0, 0x80}, "x")},
		// [MQTT-1.5.3-2] no U+0000.
		{"NUL in topic", true, publishRaw([]byte{'a', 0, 'b'}, "x")},
		// [MQTT-3.3.2-2] no wildcards in a topic name.
		{"'+' in PUBLISH topic", true, publishRaw([]byte("a/+/b"), "x")},
		{"'#' in PUBLISH topic", true, publishRaw([]byte("a/#"), "x")},
		// [MQTT-4.7.3-1] at least one character.
		{"empty PUBLISH topic", true, publishRaw(nil, "x")},
		// Only the fixed header of a 2000-byte PUBLISH: refused on the
		// header alone, before its body arrives.
		{"packet over MaxPacketSize", true, codec.AppendFixedHeader(nil, codec.PUBLISH, 0, 2000-3)},
		{"CONNECT over MaxPacketSize", false, codec.AppendFixedHeader(nil, codec.CONNECT, 0, 2000-3)},
		// [MQTT-2.2.1] type 0 is reserved; 15 is reserved in 3.1.1.
		{"type 0 before CONNECT", false, []byte{0x00, 0x00}},
		{"type 0 after CONNECT", true, []byte{0x00, 0x00}},
		{"type 15 before CONNECT", false, []byte{0xF0, 0x00}},
		{"type 15 after CONNECT", true, []byte{0xF0, 0x00}},
		// [MQTT-2.2.2-2] wrong fixed header flags.
		{"PUBREL with flags 0", true, []byte{0x60, 0x02, 0x00, 0x01}},
		{"SUBSCRIBE with flags 0", true, []byte{0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}},
		// [MQTT-3.3.1-4] QoS 3.
		{"PUBLISH with QoS 3", true, []byte{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}},
		// [MQTT-3.8.3-3] a SUBSCRIBE with no filter.
		{"SUBSCRIBE without filters", true, []byte{0x82, 0x02, 0x00, 0x01}},
		// [MQTT-2.3.1-1] packet identifier 0.
		{"QoS 1 PUBLISH with packet id 0", true, []byte{0x32, 0x06, 0x00, 0x01, 'a', 0x00, 0x00, 'x'}},
		// [MQTT-3.12] PINGREQ has no body.
		{"PINGREQ with a body", true, []byte{0xC0, 0x01, 0x00}},
	}
	for i, tc := range cases {
		id := fmt.Sprintf("bad-%d", i)
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().ProtocolErrors
			c := servertest.Dial(t, srv.Addr())
			want := []string{`msg="closing connection"`, "remote=" + c.NetConn().LocalAddr().String(), "reason="}
			if tc.connected {
				c.MustConnect(servertest.NewConnect(id, true, 0), false)
				want = append(want, "client_id="+id)
			} else {
				want = append(want, `client_id=""`)
			}
			c.Write(tc.send)
			if got := c.ExpectClosed(wait); len(got) > 0 {
				t.Fatalf("packets to the offending 3.1.1 client before its close: %v", got)
			}
			line := log.WaitFor(t, wait, want...)
			t.Logf("logged: %s", line)
			servertest.Eventually(t, wait, func() bool { return srv.Stats().ProtocolErrors == before+1 },
				"Stats().ProtocolErrors == "+strconv.FormatUint(before+1, 10))
			healthy(t, okPub, okSub, "ok/t", tc.name)
		})
	}
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 2 }, "only the two good clients connected")
}

// TestRefusedConnectLogsClientID: a CONNECT the broker refuses is logged
// with the client id it asked for, though no session was ever attached, so
// an operator can tell which device keeps being turned away.
func TestRefusedConnectLogsClientID(t *testing.T) {
	t.Parallel()
	srv, log := servertest.StartLogged(t, func(c *server.Config) { c.MaxKeepAlive = 60 })
	c := servertest.Dial(t, srv.Addr())
	ack := c.Connect(servertest.NewConnect("sensor-refused-7", true, 120))
	if ack.ReasonCode == 0 {
		t.Fatal("a keepalive above the maximum was accepted from a 3.1.1 client")
	}
	line := log.WaitFor(t, wait, `msg="closing connection"`, "client_id=sensor-refused-7", "keepalive above the server's maximum")
	t.Logf("logged: %s", line)
}
