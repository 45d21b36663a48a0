package server_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/codec/codectest"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// fuzzSeed is one handcrafted input of FuzzConnection: the bytes a client
// sends and where they are split into two writes.
type fuzzSeed struct {
	name  string
	data  []byte
	split uint16
}

// fuzzConnect is the CONNECT most seeds start with.
func fuzzConnect(id string, clean bool) []byte {
	return codec.AppendConnect(nil, servertest.NewConnect(id, clean, 30))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// fuzzSeeds are the handcrafted inputs, written to the checked-in corpus
// under testdata/fuzz/FuzzConnection by TestFuzzConnectionCorpus. Half start
// with a valid CONNECT; the rest probe the state before CONNECT.
func fuzzSeeds() []fuzzSeed {
	conn := fuzzConnect("fz", true)
	pub := func(topic string, qos byte, retain, dup bool, pid uint16, payload string) []byte {
		return codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), QoS: qos, Retain: retain, Dup: dup, PacketID: pid, Payload: []byte(payload)}, 4)
	}
	ack := func(t codec.PacketType, pid uint16) []byte {
		return codec.AppendAck(nil, &codec.Ack{Type: t, PacketID: pid}, 4)
	}
	sub := func(pid uint16, qos byte, filters ...string) []byte {
		p := codec.Subscribe{PacketID: pid}
		for _, f := range filters {
			p.Subs = append(p.Subs, codec.Subscription{Filter: []byte(f), QoS: qos})
		}
		return codec.AppendSubscribe(nil, &p, 4)
	}
	unsub := codec.AppendUnsubscribe(nil, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{[]byte("a/#")}}, 4)
	ping := codec.AppendPingreq(nil)
	disc := codec.AppendDisconnect(nil, &codec.Disconnect{}, 4)
	will := codec.AppendConnect(nil, servertest.WithWill(servertest.NewConnect("fz-will", true, 30), "fz/will", "bye", 1, true))
	v31 := codec.AppendConnect(nil, &codec.Connect{ProtocolVersion: codec.Version31, ClientID: []byte("fz31"), CleanStart: true, KeepAlive: 30})
	v5 := codec.AppendConnect(nil, &codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte("fz5"), CleanStart: true, KeepAlive: 30})
	v5pub := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("fz/5"), QoS: 1, PacketID: 9, Payload: []byte("v5")}, 5)
	half := func(b []byte) uint16 { return uint16(len(b) / 2) }

	seeds := []fuzzSeed{
		// With a valid CONNECT first.
		{"connect", conn, half(conn)},
		{"connect-disconnect", cat(conn, disc), uint16(len(conn))},
		{"publish-qos0", cat(conn, pub("a/b", 0, false, false, 0, "hello")), uint16(len(conn) + 1)},
		{"publish-qos1", cat(conn, pub("a/b", 1, false, false, 1, "hello")), uint16(len(conn) + 3)},
		{"publish-qos2-pubrel", cat(conn, pub("a/b", 2, false, false, 2, "x"), ack(codec.PUBREL, 2)), uint16(len(conn) + 5)},
		{"publish-qos2-dup-twice", cat(conn, pub("a/b", 2, false, false, 2, "x"), pub("a/b", 2, false, true, 2, "x"), ack(codec.PUBREL, 2)), 3},
		{"subscribe-publish-self", cat(conn, sub(1, 2, "a/#"), pub("a/b", 0, false, false, 0, "0"), pub("a/b", 1, false, false, 1, "1"), pub("a/b", 2, false, false, 2, "2"), ack(codec.PUBREL, 2)), uint16(len(conn) + 2)},
		{"subscribe-unsubscribe", cat(conn, sub(1, 1, "a/#", "+/b", "$SYS/#"), unsub), uint16(len(conn) + 7)},
		{"retained-set-delete", cat(conn, pub("r/x", 1, true, false, 4, "keep"), sub(5, 1, "r/#"), pub("r/x", 0, true, false, 0, "")), uint16(len(conn))},
		{"acks-unknown-ids", cat(conn, ack(codec.PUBACK, 7), ack(codec.PUBREC, 8), ack(codec.PUBREL, 9), ack(codec.PUBCOMP, 10)), 1},
		{"ping-disconnect", cat(conn, ping, ping, disc), uint16(len(conn) + 1)},
		{"persistent-subscribe", cat(fuzzConnect("fz-persist", false), sub(1, 1, "p/#")), 2},
		{"will-then-garbage", cat(will, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), uint16(len(will))},
		{"mqtt31", cat(v31, pub("a/31", 1, false, false, 1, "31"), disc), half(v31)},
		{"mqtt5-publish", cat(v5, v5pub), uint16(len(v5) + 2)},
		{"second-connect", cat(conn, conn), uint16(len(conn))},
		{"publish-wildcard-topic", cat(conn, pub("a/+", 0, false, false, 0, "x")), uint16(len(conn))},
		{"publish-bad-utf8", cat(conn, []byte{0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 'x'}), uint16(len(conn) + 2)},
		{"remaining-length-5-bytes", cat(conn, []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}), uint16(len(conn) + 3)},
		{"huge-remaining-length", cat(conn, []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}), uint16(len(conn))},
		{"type-15-after-connect", cat(conn, []byte{0xF0, 0x00}), uint16(len(conn))},
		// Without a valid CONNECT first.
		{"empty", nil, 0},
		{"type-0", []byte{0x00, 0x00}, 1},
		{"publish-before-connect", pub("a/b", 1, false, false, 1, "early"), 4},
		{"pingreq-before-connect", ping, 1},
		{"truncated-connect", conn[:len(conn)-3], half(conn)},
		{"connect-reserved-flag", rawConnect("MQTT", 4, 0x03, "fz"), 9},
		{"connect-level-6", rawConnect("MQTT", 6, 0x02, "fz"), 8},
		{"connect-bad-name", rawConnect("MQTX", 4, 0x02, "fz"), 4},
		{"connect-empty-id-persistent", codec.AppendConnect(nil, servertest.NewConnect("", false, 30)), 3},
		{"connect-remaining-too-long", []byte{0x10, 0x80, 0x80, 0x80, 0x80, 0x01}, 2},
		{"http-get", []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), 5},
	}
	return seeds
}

// fuzzRuns numbers FuzzConnection's inputs; every fuzzHealthEvery-th one
// also checks that a well-behaved client still gets service.
var fuzzRuns atomic.Uint64

const fuzzHealthEvery = 16

// FuzzConnection sends each input to one connection of a broker shared by
// the whole run, in two writes split at a chosen point (as nats-server's
// parser fuzz test does), then half-closes the connection and reads until
// the broker closes it. The broker must not panic, must close every such
// connection (Stats().Connections back to 0), and must go on serving a
// well-behaved client.
func FuzzConnection(f *testing.F) {
	// The codec's test vectors, after a CONNECT for half of them, split in
	// the middle of the packet. The handcrafted seeds are in the checked-in
	// corpus.
	conn := fuzzConnect("fz-vec", true)
	for i, c := range codectest.All() {
		data := c.Raw
		if i%2 == 0 {
			data = cat(conn, c.Raw)
		}
		f.Add(data, uint16(len(data)-len(c.Raw)/2))
	}
	srv := servertest.StartSilent(f, func(c *server.Config) { c.MaxPacketSize = 64 << 10 })
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		n := fuzzRuns.Add(1)
		nc, err := net.DialTimeout("tcp", srv.Addr().String(), wait)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer nc.Close()
		k := int(split) % (len(data) + 1)
		_ = nc.SetDeadline(time.Now().Add(wait))
		// The broker may close after the first part: a failed write is fine.
		if _, err := nc.Write(data[:k]); err == nil && k < len(data) {
			_, _ = nc.Write(data[k:])
		}
		// FIN, then read what the broker sends until it closes its side.
		_ = nc.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, nc); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the broker kept the connection open %v after the client's FIN", wait)
		}
		servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 0 },
			"Stats().Connections back to 0: the broker leaked a connection")
		if n%fuzzHealthEvery == 1 {
			fuzzHealthy(t, srv, n)
		}
	})
}

// fuzzHealthy connects a fresh, well-behaved client that subscribes, publishes
// QoS 1 to itself and receives, then disconnects.
func fuzzHealthy(t *testing.T, srv *server.Server, n uint64) {
	t.Helper()
	id := "fuzz-health-" + strconv.FormatUint(n, 10)
	c := servertest.DialConnect(t, srv.Addr(), id, true, false)
	c.MustSubscribe(1, 1, "fuzz-health/"+id)
	c.Publish("fuzz-health/"+id, "alive", 1, false, 1)
	var acked, got bool
	for !acked || !got { // PUBACK and our message, in either order
		pk := c.Next()
		switch pk.Type() {
		case codec.PUBACK:
			acked = true
		case codec.PUBLISH:
			m := c.DecodePublish(pk)
			if string(m.Payload) != "alive" {
				t.Fatalf("health check got %q on %q", m.Payload, m.Topic)
			}
			c.SendAck(codec.PUBACK, m.PacketID)
			got = true
		default:
			t.Fatalf("health check got %v", pk)
		}
	}
	c.Disconnect()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 0 }, "the health check's connection to end")
}

// TestFuzzConnectionCorpus checks that every handcrafted seed is in the
// checked-in corpus, byte for byte. With CP7_WRITE_FUZZ_CORPUS=1 it writes
// the corpus instead (after changing fuzzSeeds).
func TestFuzzConnectionCorpus(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "fuzz", "FuzzConnection")
	write := os.Getenv("CP7_WRITE_FUZZ_CORPUS") == "1"
	for _, s := range fuzzSeeds() {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\n", s.data, s.split)
		path := filepath.Join(dir, "seed-"+s.name)
		if write {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("seed %s: %v (run CP7_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzConnectionCorpus ./server/)", s.name, err)
		}
		if string(got) != want {
			t.Fatalf("seed %s differs from fuzzSeeds(): run CP7_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzConnectionCorpus ./server/", s.name)
		}
	}
}
