package server

import (
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
)

// BenchPublishQoS0With runs the QoS 0 publish benchmark (client "pub"
// publishes on sensors/42/temp to one subscriber, "sub0", on the same loop)
// on a broker whose Config.ACL is a. It is exported for server_test, whose
// benchmarks use server/acl (which imports server).
func BenchPublishQoS0With(b *testing.B, a Authorizer) {
	benchPublishWith(b, 4, 1, func(c *Config) { c.ACL = a })
}

// PublishQoS0Allocs is the allocations of one QoS 0 publish ("pub" on
// sensors/42/temp to "sub0", same loop) on a broker whose Config.ACL is a,
// after a first publish has built the clients' views; and the bytes sub0
// received in all, so a caller can tell that the messages got through.
func PublishQoS0Allocs(t *testing.T, a Authorizer) (allocs float64, received int) {
	bb := newBenchBrokerWith(t, func(c *Config) { c.ACL = a })
	pub, _ := bb.connect(t, "pub", 4, "")
	_, sink := bb.connect(t, "sub0", 4, "sensors/+/temp")
	pkt := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("sensors/42/temp"), Payload: make([]byte, 64)}, 4)
	l := bb.l
	round := func() {
		l.now = time.Now()
		if n, closeNow := l.process(pub, pkt); n != len(pkt) || closeNow {
			t.Fatal("publish not consumed")
		}
		l.endTurn()
	}
	round()
	allocs = testing.AllocsPerRun(200, round)
	return allocs, sink.n
}
