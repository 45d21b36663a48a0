package server_test

import (
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

// TestPacketsSplitAcrossReads writes CONNECT, SUBSCRIBE and PUBLISH one byte
// per write, so the broker's gnet loop sees packets arrive in pieces over
// many reads: nothing buffered may be lost between reads.
func TestPacketsSplitAcrossReads(t *testing.T) {
	srv := servertest.Start(t, nil)
	c := servertest.Dial(t, srv.Addr())
	var b []byte
	b = codec.AppendConnect(b, servertest.NewConnect("split", true, 30))
	b = codec.AppendSubscribe(b, &codec.Subscribe{PacketID: 1,
		Subs: []codec.Subscription{{Filter: []byte("split/t"), QoS: 1}}}, codec.Version311)
	b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("split/t"), QoS: 1, PacketID: 2,
		Payload: []byte("arrived in pieces")}, codec.Version311)
	for i := range b {
		c.Write(b[i : i+1])
		// A pause makes the broker read the bytes in many pieces; the test
		// asserts the same outcome whichever pieces it gets.
		time.Sleep(time.Millisecond)
	}
	c.ExpectConnack()
	c.Expect(codec.SUBACK)
	// The PUBACK for our publish and the delivery of it come in either order.
	var gotAck, gotMsg bool
	for !gotAck || !gotMsg {
		pk := c.Next()
		switch pk.Type() {
		case codec.PUBACK:
			gotAck = true
		case codec.PUBLISH:
			p := c.DecodePublish(pk)
			if string(p.Payload) != "arrived in pieces" {
				t.Fatalf("payload %q", p.Payload)
			}
			gotMsg = true
		default:
			t.Fatalf("unexpected %v", pk)
		}
	}
}
