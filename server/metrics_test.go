package server_test

import (
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestMetricsCountAKnownWorkload drives a fixed workload and checks every
// figure it touches: connections by protocol, messages and bytes by QoS,
// drops by reason, disconnects by reason, sessions, subscriptions,
// retained, in-flight and queued.
func TestMetricsCountAKnownWorkload(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) { c.MaxQueued = 2 })
	sub := servertest.DialConnect(t, srv.Addr(), "sub", true, false)
	sub.MustSubscribe(1, 1, "m/#")
	pub := servertest.Dial(t, srv.Addr())
	cp := servertest.NewConnect("pub", true, 60)
	cp.ProtocolVersion = codec.Version5
	pub.MustConnect(cp, false)

	m := srv.Metrics()
	if m.ConnectedTotal != 2 || m.ConnectionsOpen != 2 {
		t.Fatalf("connected %d open %d, want 2 and 2", m.ConnectedTotal, m.ConnectionsOpen)
	}
	byProto := map[string]int64{}
	for _, c := range m.Connected {
		if c.Listener != "tcp" && c.N != 0 {
			t.Fatalf("connection on listener %q, want tcp only", c.Listener)
		}
		byProto[c.Protocol] += c.N
	}
	if byProto["3.1.1"] != 1 || byProto["5.0"] != 1 {
		t.Fatalf("connections by protocol %v, want one 3.1.1 and one 5.0", byProto)
	}

	// 3 QoS 0 and 2 QoS 1 publishes, one retained; each reaches sub.
	for range 3 {
		pub.Publish("m/a", "0123456789", 0, false, 0)
	}
	pub.PublishAcked("m/b", "x", 1, false, 1)
	pub.PublishAcked("m/r", "keep", 1, true, 2)
	for range 3 {
		sub.ExpectMessage("m/a", "0123456789", 0, false)
	}
	p1 := sub.ExpectMessage("m/b", "x", 1, false)
	p2 := sub.ExpectMessage("m/r", "keep", 1, false)
	servertest.Eventually(t, wait, func() bool { return srv.Metrics().Inflight == 2 }, "2 in flight before the PUBACKs")
	sub.SendAck(codec.PUBACK, p1.PacketID)
	sub.SendAck(codec.PUBACK, p2.PacketID)
	sub.Ping()
	// A turn's figures are added to the counters just after its writes.
	servertest.Poll(wait, func() bool {
		m := srv.Metrics()
		return m.MessagesOut == [3]uint64{3, 2, 0} && m.Events["deliveries_acknowledged"] == 2
	})
	m = srv.Metrics()
	if m.MessagesIn != [3]uint64{3, 2, 0} || m.MessagesOut != [3]uint64{3, 2, 0} {
		t.Fatalf("messages in %v out %v, want [3 2 0] both", m.MessagesIn, m.MessagesOut)
	}
	// v5 PUBLISH QoS 0 "m/a" + 10 bytes: 2 header + 2+3 topic + 1 props + 10 = 18.
	if m.BytesIn[0] != 3*18 {
		t.Fatalf("QoS 0 bytes in %d, want %d", m.BytesIn[0], 3*18)
	}
	// 3.1.1 delivery: no property byte, so 17 each.
	if m.BytesOut[0] != 3*17 {
		t.Fatalf("QoS 0 bytes out %d, want %d", m.BytesOut[0], 3*17)
	}
	if m.NetBytesIn == 0 || m.NetBytesOut < m.BytesOut[0]+m.BytesOut[1] {
		t.Fatalf("network bytes in %d out %d: out must cover the PUBLISH bytes %d", m.NetBytesIn, m.NetBytesOut, m.BytesOut[0]+m.BytesOut[1])
	}
	if m.Inflight != 0 || m.Retained != 1 || m.Subscriptions != 1 || m.Sessions != 2 {
		t.Fatalf("inflight %d retained %d subscriptions %d sessions %d, want 0 1 1 2", m.Inflight, m.Retained, m.Subscriptions, m.Sessions)
	}
	if m.Events["deliveries_acknowledged"] != 2 {
		t.Fatalf("acknowledged %d, want 2", m.Events["deliveries_acknowledged"])
	}

	// A persistent session goes offline: QoS 1 queues (2 kept, 1 dropped
	// for a full queue), QoS 0 to it is dropped as offline.
	off := servertest.DialConnect(t, srv.Addr(), "off", false, false)
	off.MustSubscribe(1, 1, "q/#")
	off.Disconnect()
	servertest.Eventually(t, wait, func() bool { return srv.Metrics().ConnectedTotal == 2 }, "off disconnected")
	for i := range 3 {
		pub.PublishAcked("q/x", "y", 1, false, uint16(10+i))
	}
	pub.Publish("q/x", "zero", 0, false, 0)
	pub.Ping()
	// The session may live on another loop: its hand-overs land a little later.
	servertest.Poll(wait, func() bool { m := srv.Metrics(); return m.Dropped["offline"] == 1 && m.Queued == 2 })
	m = srv.Metrics()
	if m.Queued != 2 || m.Dropped["queue_full"] != 1 || m.Dropped["offline"] != 1 {
		t.Fatalf("queued %d, dropped %v: want 2 queued, 1 queue_full, 1 offline", m.Queued, m.Dropped)
	}
	if m.SessionsOffline != 1 || m.Disconnects["client_disconnect"] != 1 {
		t.Fatalf("offline sessions %d, disconnects %v: want 1 and 1 client_disconnect", m.SessionsOffline, m.Disconnects)
	}
	// The session returns and takes its queue: no longer queued.
	back := servertest.DialConnect(t, srv.Addr(), "off", false, true)
	back.ExpectPublish()
	back.ExpectPublish()
	servertest.Eventually(t, wait, func() bool { m := srv.Metrics(); return m.Queued == 0 && m.Inflight == 2 }, "the queue moved in flight")

	// A connection lost without DISCONNECT.
	sub.Close()
	servertest.Eventually(t, wait, func() bool { return srv.Metrics().Disconnects["connection_lost"] == 1 }, "connection_lost counted")
	if n := srv.Metrics().ConnectedTotal; n != 2 {
		t.Fatalf("connected %d after sub left, want 2", n)
	}
	if s := srv.Stats(); s.Connections != 2 || s.MessagesReceived != 9 {
		t.Fatalf("Stats: connections %d received %d, want 2 and 9", s.Connections, s.MessagesReceived)
	}
}
