package server

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
)

// discardTransport is a goroutine-transport stand-in that counts bytes, so
// the benchmarks measure the broker's own work: decode, route, encode and
// the per-turn flush.
type discardTransport struct{ n int }

func (d *discardTransport) write(b []byte) error { d.n += len(b); return nil }
func (d *discardTransport) close()               {}
func (d *discardTransport) resumeInput()         {}

// benchBroker is a server without listeners and one loop driven directly.
type benchBroker struct {
	srv *Server
	l   *loop
}

func newBenchBroker(tb testing.TB) *benchBroker { return newBenchBrokerWith(tb, nil) }

// newBenchBrokerWith is newBenchBroker with configure applied to the config.
func newBenchBrokerWith(tb testing.TB, configure func(*Config)) *benchBroker {
	cfg := DefaultConfig()
	cfg.Listen = ""
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	l := newLoop(srv, func(f func()) bool { f(); return true })
	return &benchBroker{srv: srv, l: l}
}

// connect runs CONNECT (and SUBSCRIBE to filter, if any) for a new client.
func (b *benchBroker) connect(tb testing.TB, id string, version byte, filter string) (*client, *discardTransport) {
	return b.connectOn(tb, b.l, id, version, filter, 0)
}

// connectOn is connect on loop l, subscribing at qos.
func (b *benchBroker) connectOn(tb testing.TB, l *loop, id string, version byte, filter string, qos byte) (*client, *discardTransport) {
	t := &discardTransport{}
	c := &client{l: l, lastActive: time.Now().Unix()}
	c.ext().t = t
	name := "MQTT"
	if version == codec.Version31 {
		name = "MQIsdp"
	}
	pkt := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte(name), ProtocolVersion: version,
		CleanStart: true, KeepAlive: 60, ClientID: []byte(id)})
	if filter != "" {
		pkt = codec.AppendSubscribe(pkt, &codec.Subscribe{PacketID: 1,
			Subs: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}, version)
	}
	l.now = time.Now()
	n, closeNow := l.process(c, pkt)
	l.endTurn()
	if closeNow || n != len(pkt) || c.state != stateConnected {
		tb.Fatalf("connect %s: consumed %d of %d, close=%v, state=%d", id, n, len(pkt), closeNow, c.state)
	}
	return c, t
}

func benchPublish(b *testing.B, version byte, subs int) { benchPublishWith(b, version, subs, nil) }

func benchPublishWith(b *testing.B, version byte, subs int, configure func(*Config)) {
	bb := newBenchBrokerWith(b, configure)
	pub, _ := bb.connect(b, "pub", version, "")
	var sinks []*discardTransport
	for i := range subs {
		_, t := bb.connect(b, fmt.Sprintf("sub%d", i), version, "sensors/+/temp")
		sinks = append(sinks, t)
	}
	payload := make([]byte, 64)
	pkt := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("sensors/42/temp"), Payload: payload}, version)
	l := bb.l
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	for range b.N {
		l.now = time.Now()
		n, closeNow := l.process(pub, pkt)
		if n != len(pkt) || closeNow {
			b.Fatal("publish not consumed")
		}
		l.endTurn()
	}
	b.StopTimer()
	for _, s := range sinks {
		if s.n < b.N*len(pkt) {
			b.Fatalf("subscriber received %d bytes, want at least %d", s.n, b.N*len(pkt))
		}
	}
}

// BenchmarkPublishQoS0 is the whole inbound path of a QoS 0 publish with one
// subscriber on the same loop: decode, route, encode, flush.
func BenchmarkPublishQoS0(b *testing.B)          { benchPublish(b, codec.Version311, 1) }
func BenchmarkPublishQoS0V5(b *testing.B)        { benchPublish(b, codec.Version5, 1) }
func BenchmarkPublishQoS0Fanout100(b *testing.B) { benchPublish(b, codec.Version311, 100) }

// qos1Round is one QoS 1 message end to end: the publisher's PUBLISH (PUBACK
// back to it, PUBLISH to the subscriber) and the subscriber's PUBACK, which
// ends the flow. The subscriber may live on another loop (cross), whose
// tasks run at once, as a gnet loop would run them on its next turn.
type qos1Round struct {
	pub, sub *client
	pl, sl   *loop
	pkt      []byte
	ack      codec.Ack
	ackPkt   []byte
	sink     *discardTransport
}

func newQoS1Round(tb testing.TB, cross bool) *qos1Round {
	bb := newBenchBroker(tb)
	r := &qos1Round{pl: bb.l, sl: bb.l}
	if cross {
		var sl *loop
		sl = newLoop(bb.srv, func(f func()) bool { f(); sl.endTurn(); return true })
		r.sl = sl
	}
	r.pub, _ = bb.connectOn(tb, r.pl, "pub", codec.Version311, "", 0)
	r.sub, r.sink = bb.connectOn(tb, r.sl, "sub", codec.Version311, "sensors/+/temp", 1)
	r.pkt = codec.AppendPublish(nil, &codec.Publish{Topic: []byte("sensors/42/temp"), QoS: 1, PacketID: 1,
		Payload: make([]byte, 64)}, codec.Version311)
	r.ack = codec.Ack{Type: codec.PUBACK}
	return r
}

// run does one round; the broker gives the subscriber packet id 1 each
// time, since its window empties between rounds.
func (r *qos1Round) run(tb testing.TB) {
	r.pl.now = time.Now()
	if n, closeNow := r.pl.process(r.pub, r.pkt); n != len(r.pkt) || closeNow {
		tb.Fatal("publish not consumed")
	}
	r.pl.endTurn()
	st := r.sub.sess.st
	if st == nil || len(st.inflight) != 1 {
		tb.Fatal("the delivery is not in the subscriber's window")
	}
	r.ack.PacketID = st.inflight[0].pid
	r.ackPkt = codec.AppendAck(r.ackPkt[:0], &r.ack, codec.Version311)
	r.sl.now = time.Now()
	if n, closeNow := r.sl.process(r.sub, r.ackPkt); n != len(r.ackPkt) || closeNow {
		tb.Fatal("puback not consumed")
	}
	r.sl.endTurn()
	if r.sub.sess.st != nil {
		tb.Fatal("the flow did not end with the PUBACK")
	}
}

func benchQoS1(b *testing.B, cross bool) {
	r := newQoS1Round(b, cross)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.run(b)
	}
	b.StopTimer()
	if r.sink.n < b.N*len(r.pkt) {
		b.Fatalf("subscriber received %d bytes, want at least %d", r.sink.n, b.N*len(r.pkt))
	}
}

// BenchmarkPublishQoS1 is one QoS 1 message and both acknowledgements, with
// publisher and subscriber on one loop.
func BenchmarkPublishQoS1(b *testing.B) { benchQoS1(b, false) }

// BenchmarkPublishQoS1CrossLoop is the same with the subscriber on another
// loop: the delivery is handed over in a batch.
func BenchmarkPublishQoS1CrossLoop(b *testing.B) { benchQoS1(b, true) }
