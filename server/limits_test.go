package server_test

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// Tests of the limits that bound what a client can make the broker hold
// (issue 10). Each checks that the limit holds, is counted, and that what
// was acknowledged is not lost.

// deepTopic returns a topic of n one-byte levels.
func deepTopic(n int) string { return strings.TrimSuffix(strings.Repeat("a/", n), "/") }

func TestLimitTopicLevelsAndLength(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxTopicLevels = 8; c.MaxTopicLength = 100 })

	sub := servertest.DialConnect(t, srv.Addr(), "tl-sub", true, false)
	codes := sub.Subscribe(1, 0, deepTopic(8), deepTopic(9), "x/"+strings.Repeat("y", 100))
	if codes[0] != 0 || codes[1] != 0x80 || codes[2] != 0x80 {
		t.Fatalf("SUBACK %v: want 8 levels granted, 9 levels and 102 bytes refused (0x80)", codes)
	}
	pub := servertest.DialConnect(t, srv.Addr(), "tl-pub", true, false)
	pub.PublishAcked(deepTopic(8), "ok", 1, false, 1)
	pub.Publish(deepTopic(9), "too deep", 1, false, 2)
	if !pub.Closed(wait) {
		t.Fatal("a publish to 9 levels with -max-topic-levels 8 was not refused")
	}
	// A will topic past the limit refuses the CONNECT.
	w := servertest.Dial(t, srv.Addr())
	ack := w.Connect(servertest.WithWill(servertest.NewConnect("tl-will", true, 0), deepTopic(9), "w", 0, false))
	if ack.ReasonCode == 0 {
		t.Fatal("a will topic of 9 levels was accepted")
	}
	if got := srv.Stats().LimitTopic; got < 4 {
		t.Fatalf("LimitTopic %d, want at least 4 (two filters, a publish, a will)", got)
	}
}

func TestLimitSubscriptionsPerClient(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxSubscriptions = 3 })
	c := servertest.DialConnect(t, srv.Addr(), "ms", true, false)
	if codes := c.Subscribe(1, 1, "a/#", "b/+", "c"); codes[0] != 1 || codes[1] != 1 || codes[2] != 1 {
		t.Fatalf("first three: %v", codes)
	}
	if codes := c.Subscribe(2, 1, "d", "a/#"); codes[0] != 0x80 || codes[1] != 1 {
		t.Fatalf("SUBACK %v: want the 4th filter refused and a repeated one still granted", codes)
	}
	c.Unsubscribe(3, "c")
	if codes := c.Subscribe(4, 0, "d"); codes[0] != 0 {
		t.Fatalf("after an UNSUBSCRIBE: %v", codes)
	}
	if got := srv.Stats().LimitSubscriptions; got != 1 {
		t.Fatalf("LimitSubscriptions %d, want 1", got)
	}
	// v5 says Quota exceeded.
	v := v5Client(t, srv, "ms5")
	v5MustSubscribe(t, v, 1, 0, v5Sub("1"), v5Sub("2"), v5Sub("3"))
	if codes := v5Subscribe(t, v, 2, 0, v5Sub("4")); codes[0] != codec.QuotaExceeded {
		t.Fatalf("v5 SUBACK %v, want 0x97", codes)
	}
}

// TestLimitConnectPacket: before CONNACK a packet may be at most
// MaxConnectPacket, so an unauthenticated peer cannot make the broker hold
// a max-packet-size packet; it is refused from its header.
func TestLimitConnectPacket(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxConnectPacket = 1024 })
	c := servertest.Dial(t, srv.Addr())
	c.Write([]byte{0x10, 0x80, 0x80, 0x04}) // CONNECT of 64 KiB, header only
	if !c.Closed(wait) {
		t.Fatal("a 64 KiB CONNECT header was not refused")
	}
	if got := srv.Stats().LimitConnectPacket; got != 1 {
		t.Fatalf("LimitConnectPacket %d, want 1", got)
	}
	// A connected client may still send up to MaxPacketSize.
	pub := servertest.DialConnect(t, srv.Addr(), "cp-pub", true, false)
	pub.PublishAcked("cp/big", strings.Repeat("x", 4096), 1, false, 1)
}

// TestDribbledPacket: a large PUBLISH sent a few bytes at a time arrives
// whole, and the inbound budget it reserved is given back.
func TestDribbledPacket(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	sub := servertest.DialConnect(t, srv.Addr(), "dr-sub", true, false)
	sub.MustSubscribe(1, 0, "dr/t")
	pub := servertest.DialConnect(t, srv.Addr(), "dr-pub", true, false)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	pkt := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("dr/t"), Payload: payload}, codec.Version311)
	tc := pub.NetConn().(*net.TCPConn)
	_ = tc.SetNoDelay(true)
	for i := 0; i < len(pkt); i += 512 {
		pub.Write(pkt[i:min(i+512, len(pkt))])
		if i == 64*512 {
			servertest.Eventually(t, wait, func() bool { return srv.Stats().InboundBytes == int64(len(pkt)) },
				"the incomplete packet's size reserved")
		}
	}
	p := sub.ExpectPublish()
	if !bytes.Equal(p.Payload, payload) {
		t.Fatalf("payload of %d bytes arrived as %d", len(payload), len(p.Payload))
	}
	servertest.Eventually(t, wait, func() bool { return srv.Stats().InboundBytes == 0 }, "reservation released")
}

// TestInboundBudgetPausesNotDrops: two connections each hold an incomplete
// packet; the second does not fit MaxInboundBytes, so it is not read until
// the first completes. Both messages arrive; nothing is dropped.
func TestInboundBudgetPausesNotDrops(t *testing.T) {
	t.Parallel()
	const size = 48 << 10
	srv := servertest.Start(t, func(c *server.Config) {
		c.MaxPacketSize = 64 << 10
		c.MaxInboundBytes = 64 << 10
		c.EventLoops = 1
	})
	sub := servertest.DialConnect(t, srv.Addr(), "ib-sub", true, false)
	sub.MustSubscribe(1, 0, "ib/#")
	pkt := func(topic string) []byte {
		return codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), Payload: bytes.Repeat([]byte("p"), size)}, codec.Version311)
	}
	a := servertest.DialConnect(t, srv.Addr(), "ib-a", true, false)
	b := servertest.DialConnect(t, srv.Addr(), "ib-b", true, false)
	pa, pb := pkt("ib/a"), pkt("ib/b")
	a.Write(pa[:size/2])
	servertest.Eventually(t, wait, func() bool { return srv.Stats().InboundBytes == int64(len(pa)) }, "a's packet reserved")
	b.Write(pb[:size/2])
	servertest.Eventually(t, wait, func() bool { return srv.Stats().PausedInbound == 1 }, "b paused by the budget")
	if got := srv.Stats().InboundBytes; got > 64<<10 {
		t.Fatalf("InboundBytes %d above MaxInboundBytes", got)
	}
	b.Write(pb[size/2:])
	a.Write(pa[size/2:])
	got := map[string]bool{}
	for range 2 {
		got[string(sub.ExpectPublish().Topic)] = true
	}
	if !got["ib/a"] || !got["ib/b"] {
		t.Fatalf("received %v, want both", got)
	}
}

// TestAcksCountAgainstOutbound: a client that sends PINGREQs (or QoS 1
// publishes) and never reads the answers is not read either once they pass
// MaxOutboundBytes; when it reads again every answer arrives.
func TestAcksCountAgainstOutbound(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxOutboundBytes = 4096 })
	c := servertest.Dial(t, srv.Addr())
	if tc, ok := c.NetConn().(*net.TCPConn); ok {
		// Not smaller: a receive window far below loopback's 64 KiB MSS
		// stalls Linux's sender for seconds (silly-window avoidance).
		_ = tc.SetReadBuffer(64 << 10)
	}
	c.MustConnect(servertest.NewConnect("ack-out", true, 0), false)
	const n = 4 << 20 // 8 MB of PINGREQ, 8 MB of PINGRESP: more than the socket buffers hold
	pings := bytes.Repeat([]byte{0xC0, 0}, 64<<10)
	sent := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < n/(64<<10) && err == nil; i++ {
			_ = c.NetConn().SetWriteDeadline(time.Now().Add(30 * time.Second))
			_, err = c.NetConn().Write(pings)
		}
		sent <- err
	}()
	servertest.Eventually(t, 30*time.Second, func() bool { return srv.Stats().PausedOutbound > 0 }, "input paused by unread PINGRESPs")
	got := 0
	buf := make([]byte, 64<<10)
	_ = c.NetConn().SetReadDeadline(time.Now().Add(30 * time.Second))
	for got < 2*n {
		k, err := c.NetConn().Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d PINGRESP bytes: %v", got, 2*n, err)
		}
		got += k
	}
	if err := <-sent; err != nil {
		t.Fatalf("writing PINGREQs: %v", err)
	}
}

// TestRetainedPacedBySocket: a subscriber to # over more retained bytes than
// the outbound limit gets every retained message, as it reads.
func TestRetainedPacedBySocket(t *testing.T) {
	t.Parallel()
	const n = 5000
	srv := servertest.Start(t, func(c *server.Config) { c.MaxOutboundBytes = 16 << 10 })
	pub := servertest.DialConnect(t, srv.Addr(), "rp-pub", true, false)
	payload := bytes.Repeat([]byte("r"), 200)
	var b []byte
	for i := range n {
		b = codec.AppendPublish(b, &codec.Publish{Topic: []byte(fmt.Sprintf("rp/%d", i)), Payload: payload, Retain: true}, codec.Version311)
	}
	pub.Write(b)
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Retained == n }, "retained stored")
	sub := servertest.Dial(t, srv.Addr())
	if tc, ok := sub.NetConn().(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(64 << 10)
	}
	sub.MustConnect(servertest.NewConnect("rp-sub", true, 0), false)
	sub.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("rp/#")}}}, codec.Version311))
	sub.Expect(codec.SUBACK)
	seen := make(map[string]bool, n)
	for len(seen) < n {
		p := sub.ExpectPublish()
		if !p.Retain {
			t.Fatalf("non-retained %q", p.Topic)
		}
		seen[string(p.Topic)] = true
	}
	if d := srv.Stats().DroppedSlow; d != 0 {
		t.Fatalf("DroppedSlow %d: retained messages fell to the slow-consumer limit", d)
	}
}

// TestQueuedBytesBound: an offline persistent session's queue keeps at most
// MaxQueuedBytes; the oldest go first and are counted.
func TestQueuedBytesBound(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxQueuedBytes = 10000 })
	sub := servertest.DialConnect(t, srv.Addr(), "qb-sub", false, false)
	sub.MustSubscribe(1, 1, "qb/t")
	sub.Disconnect()
	if !sub.Closed(wait) { // closed by the broker: the session is offline
		t.Fatal("DISCONNECT did not close the connection")
	}
	pub := servertest.DialConnect(t, srv.Addr(), "qb-pub", true, false)
	for i := range 10 {
		pub.PublishAcked("qb/t", fmt.Sprintf("%d%s", i, strings.Repeat("x", 3999)), 1, false, uint16(i+1))
	}
	// The session may live on the other loop: its deliveries land after
	// the PUBACKs.
	servertest.Eventually(t, wait, func() bool { return srv.Stats().DroppedQueuedBytes >= 8 },
		"8 queued messages dropped (two 4 KB messages fit 10,000 bytes)")
	if got := srv.Stats().DroppedQueuedBytes; got != 8 {
		t.Fatalf("DroppedQueuedBytes %d, want 8", got)
	}
	back := servertest.DialConnect(t, srv.Addr(), "qb-sub", false, true)
	for _, want := range []byte{'8', '9'} {
		p := back.ExpectPublish()
		if p.Payload[0] != want {
			t.Fatalf("queued message %c, want %c", p.Payload[0], want)
		}
		back.SendAck(codec.PUBACK, p.PacketID)
	}
}

// TestMaxSessionExpiry311: -max-session-expiry ends 3.1.1 persistent
// sessions too, as Mosquitto's persistent_client_expiration.
func TestMaxSessionExpiry311(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxSessionExpiry = 1 })
	c := servertest.DialConnect(t, srv.Addr(), "mse", false, false)
	c.MustSubscribe(1, 1, "mse/t")
	c.Disconnect()
	servertest.Eventually(t, 5*time.Second, func() bool { return srv.Stats().SessionsExpired == 1 }, "3.1.1 session expired")
	servertest.DialConnect(t, srv.Addr(), "mse", false, false) // session present: false
}

// TestReceiveMaximumV5Disconnects: a v5 client that sends one more
// unacknowledged QoS 2 PUBLISH than CONNACK's Receive Maximum allowed is
// disconnected with 0x93 [MQTT-3.3.4-7]; a 3.1.1 client past the same
// limit is disconnected.
func TestReceiveMaximumV5Disconnects(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, func(c *server.Config) { c.ReceiveMaximum = 5 })
	c, ack := v5Dial(t, srv, v5ConnectPacket("rm5", true, 0), false)
	rm := ack.Props.ReceiveMaximum
	if !ack.Props.Has(codec.PropReceiveMaximum) || rm != 5 {
		t.Fatalf("CONNACK Receive Maximum %d (present %v), want 5", rm, ack.Props.Has(codec.PropReceiveMaximum))
	}
	for pid := uint16(1); pid <= rm; pid++ {
		v5Send(c, v5Msg{topic: "rm/t", payload: "x", qos: 2, pid: pid})
		v5ExpectAck(t, c, codec.PUBREC, pid)
	}
	v5Send(c, v5Msg{topic: "rm/t", payload: "x", qos: 2, pid: rm + 1})
	v5ExpectDisconnect(t, c, codec.ReceiveMaximumExceeded, wait)

	old := servertest.DialConnect(t, srv.Addr(), "rm3", true, false)
	for pid := uint16(1); pid <= 6; pid++ {
		old.Publish("rm/t", "x", 2, false, pid)
	}
	pk := old.ExpectClosed(wait)
	if len(pk) != 5 {
		t.Fatalf("3.1.1 client got %d packets before the close, want 5 PUBREC", len(pk))
	}
	if got := srv.Stats().LimitInflightIn; got != 2 {
		t.Fatalf("LimitInflightIn %d, want 2", got)
	}
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxConnections = 3 })
	var cs []*servertest.Conn
	for i := range 3 {
		cs = append(cs, servertest.DialConnect(t, srv.Addr(), fmt.Sprint("mc", i), true, false))
	}
	extra := servertest.Dial(t, srv.Addr())
	if !extra.Closed(wait) {
		t.Fatal("a 4th connection with -max-connections 3 was not closed")
	}
	if got := srv.Stats().RefusedConnections; got != 1 {
		t.Fatalf("RefusedConnections %d, want 1", got)
	}
	cs[0].Disconnect()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 2 }, "slot freed")
	servertest.DialConnect(t, srv.Addr(), "mc-again", true, false)
}

func TestConnectRatePerAddress(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.ConnectRate = 0.01; c.ConnectBurst = 2 })
	servertest.DialConnect(t, srv.Addr(), "cr1", true, false)
	servertest.DialConnect(t, srv.Addr(), "cr2", true, false)
	third := servertest.Dial(t, srv.Addr())
	if !third.Closed(wait) {
		t.Fatal("a 3rd connection within the burst of 2 was not refused")
	}
	if got := srv.Stats().RefusedConnectRate; got != 1 {
		t.Fatalf("RefusedConnectRate %d, want 1", got)
	}
}

func TestTopicAliasMaximumDefault(t *testing.T) {
	t.Parallel()
	srv := v5Start(t, nil)
	c, ack := v5Dial(t, srv, v5ConnectPacket("ta", true, 0), false)
	if ack.Props.TopicAliasMaximum != 10 {
		t.Fatalf("CONNACK Topic Alias Maximum %d, want the default 10", ack.Props.TopicAliasMaximum)
	}
	m := v5Msg{topic: "ta/t", payload: "x"}
	m.props.TopicAlias = 11
	m.props.Set(codec.PropTopicAlias)
	v5Send(c, m)
	v5ExpectDisconnect(t, c, codec.TopicAliasInvalid, wait)
	if got := srv.Stats().LimitTopicAlias; got != 1 {
		t.Fatalf("LimitTopicAlias %d, want 1", got)
	}
}

func TestRetainedLimits(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxRetained = 2; c.MaxRetainedBytes = 1000 })
	pub := servertest.DialConnect(t, srv.Addr(), "rl", true, false)
	pub.PublishAcked("rl/a", "1", 1, true, 1)
	pub.PublishAcked("rl/b", "2", 1, true, 2)
	pub.PublishAcked("rl/c", "3", 1, true, 3)                       // a third topic: not stored
	pub.PublishAcked("rl/a", "replaced", 1, true, 4)                // replacing fits
	pub.PublishAcked("rl/b", strings.Repeat("x", 2000), 1, true, 5) // too many bytes
	st := srv.Stats()
	if st.Retained != 2 || st.LimitRetained != 2 || st.RetainedBytes != int64(len("rl/a")+len("replaced")+len("rl/b")+1) {
		t.Fatalf("Retained %d, LimitRetained %d, RetainedBytes %d", st.Retained, st.LimitRetained, st.RetainedBytes)
	}
	pub.PublishAcked("rl/a", "", 1, true, 6)
	if st := srv.Stats(); st.RetainedBytes != int64(len("rl/b")+1) {
		t.Fatalf("RetainedBytes %d after a delete", st.RetainedBytes)
	}
}

// TestPublishRateDelaysNotDrops: past -publish-rate a client is not read
// until its budget refills; every message still arrives.
func TestPublishRateDelaysNotDrops(t *testing.T) {
	t.Parallel()
	const n = 30
	srv := servertest.Start(t, func(c *server.Config) { c.PublishRate = 20 })
	sub := servertest.DialConnect(t, srv.Addr(), "pr-sub", true, false)
	sub.MustSubscribe(1, 0, "pr/t")
	pub := servertest.DialConnect(t, srv.Addr(), "pr-pub", true, false)
	var b []byte
	for i := range n {
		b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("pr/t"), Payload: []byte(fmt.Sprint(i))}, codec.Version311)
	}
	pub.Write(b)
	for i := range n {
		if p := sub.ExpectPublish(); string(p.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d arrived as %q", i, p.Payload)
		}
	}
	if srv.Stats().PausedPublishRate == 0 {
		t.Fatal("30 publishes at once with -publish-rate 20 never paused the publisher")
	}
}

func TestMaxListenerConnections(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxListenerConnections = 2 })
	servertest.DialConnect(t, srv.Addr(), "ml1", true, false)
	servertest.DialConnect(t, srv.Addr(), "ml2", true, false)
	if extra := servertest.Dial(t, srv.Addr()); !extra.Closed(wait) {
		t.Fatal("a 3rd connection on a listener limited to 2 was not closed")
	}
	// Goroutine listeners count per their own address.
	a, b := net.Pipe()
	defer a.Close()
	go srv.ServeConn(b)
	c := servertest.Wrap(t, a)
	c.MustConnect(servertest.NewConnect("ml-pipe", true, 0), false)
}

// TestInboundBudgetGoroutineTransport: TLS and WebSocket connections (served
// by ServeConn) reserve their incomplete packets against the same
// -max-inbound-bytes, and wait without reading while it is spent.
func TestInboundBudgetGoroutineTransport(t *testing.T) {
	t.Parallel()
	const size = 48 << 10
	srv := servertest.Start(t, func(c *server.Config) {
		c.MaxPacketSize = 64 << 10
		c.MaxInboundBytes = 64 << 10
	})
	sub := servertest.DialConnect(t, srv.Addr(), "gib-sub", true, false)
	sub.MustSubscribe(1, 0, "gib/#")
	conns := make([]net.Conn, 2)
	for i := range conns {
		a, b := net.Pipe()
		go srv.ServeConn(b)
		c := servertest.Wrap(t, a)
		c.MustConnect(servertest.NewConnect(fmt.Sprint("gib-", i), true, 0), false)
		conns[i] = a
	}
	pkt := func(topic string) []byte {
		return codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), Payload: bytes.Repeat([]byte("p"), size)}, codec.Version311)
	}
	pa, pb := pkt("gib/a"), pkt("gib/b")
	wrote := make(chan error, 2)
	go func() { _, err := conns[0].Write(pa[:size/2]); wrote <- err }()
	<-wrote
	servertest.Eventually(t, wait, func() bool { return srv.Stats().InboundBytes == int64(len(pa)) }, "a's packet reserved")
	go func() { _, err := conns[1].Write(pb); wrote <- err }()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().PausedInbound >= 1 }, "b waits for the budget")
	go func() { _, err := conns[0].Write(pa[size/2:]); wrote <- err }()
	got := map[string]bool{}
	for range 2 {
		got[string(sub.ExpectPublish().Topic)] = true
	}
	if !got["gib/a"] || !got["gib/b"] {
		t.Fatalf("received %v, want both", got)
	}
	servertest.Eventually(t, wait, func() bool { return srv.Stats().InboundBytes == 0 }, "budget released")
}
