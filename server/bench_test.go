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

func newBenchBroker(tb testing.TB) *benchBroker {
	cfg := DefaultConfig()
	cfg.Listen = ""
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	l := newLoop(srv, func(f func()) bool { f(); return true })
	return &benchBroker{srv: srv, l: l}
}

// connect runs CONNECT (and SUBSCRIBE to filter, if any) for a new client.
func (b *benchBroker) connect(tb testing.TB, id string, version byte, filter string) (*client, *discardTransport) {
	t := &discardTransport{}
	c := &client{l: b.l, lastActive: time.Now().Unix()}
	c.ext().t = t
	name := "MQTT"
	if version == codec.Version31 {
		name = "MQIsdp"
	}
	pkt := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte(name), ProtocolVersion: version,
		CleanStart: true, KeepAlive: 60, ClientID: []byte(id)})
	if filter != "" {
		pkt = codec.AppendSubscribe(pkt, &codec.Subscribe{PacketID: 1,
			Subs: []codec.Subscription{{Filter: []byte(filter), QoS: 0}}}, version)
	}
	b.l.now = time.Now()
	n, closeNow := b.l.process(c, pkt)
	b.l.endTurn()
	if closeNow || n != len(pkt) || c.state != stateConnected {
		tb.Fatalf("connect %s: consumed %d of %d, close=%v, state=%d", id, n, len(pkt), closeNow, c.state)
	}
	return c, t
}

func benchPublish(b *testing.B, version byte, subs int) {
	bb := newBenchBroker(b)
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
