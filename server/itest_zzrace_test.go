package server_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

func TestZZParkRace(t *testing.T) {
	srv := servertest.Start(t, nil)
	pub := servertest.DialConnect(t, srv.Addr(), "park-pub", true, false)
	const burst = 20
	var pid uint16
	total := 0
	for it := range 300 {
		client, side := net.Pipe()
		go srv.ServeConn(side)
		sub := servertest.Wrap(t, client)
		ack := sub.Connect(servertest.NewConnect("park-sub", false, 0))
		if ack.ReasonCode != 0 {
			t.Fatal("refused")
		}
		if it == 0 {
			sub.MustSubscribe(1, 1, "park/t")
		}
		sub.Write(codec.AppendPingreq(nil))
		for {
			pk := sub.Next()
			if pk.Type() == codec.PINGRESP {
				break
			}
			if pk.Type() == codec.PUBLISH {
				sub.SendAck(codec.PUBACK, sub.DecodePublish(pk).PacketID)
			}
		}
		var b []byte
		for i := 0; i < burst; i++ {
			pid++
			if pid == 0 {
				pid = 1
			}
			b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("park/t"), Payload: []byte(fmt.Sprint(it, i)), QoS: 1, PacketID: pid}, 4)
		}
		pub.Write(b)
		sub.Close()
		total += burst
		for i := 0; i < burst; i++ {
			pub.Expect(codec.PUBACK)
		}
		// Reconnect on gnet, count what arrives, ack all.
		g := servertest.DialConnect(t, srv.Addr(), "park-sub", false, true)
		g.Write(codec.AppendPingreq(nil))
		for {
			pk := g.Next()
			if pk.Type() == codec.PINGRESP {
				break
			}
			if pk.Type() == codec.PUBLISH {
				g.SendAck(codec.PUBACK, g.DecodePublish(pk).PacketID)
			}
		}
		g.Ping()
		g.Close()
		servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 1 }, "conns")
		if d := srv.Stats().Dropped; d != 0 {
			t.Fatalf("iteration %d: Stats().Dropped = %d", it, d)
		}
	}
}
