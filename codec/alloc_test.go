//go:build !race

package codec_test

import (
	"testing"

	. "github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/codec/codectest"
)

// The publish path must not allocate: decode into a reused struct and encode
// into a buffer with room (ARCHITECTURE.md, "Hot path").
func TestPublishAllocs(t *testing.T) {
	for _, version := range []byte{Version311, Version5} {
		raw := AppendPublish(nil, &benchPub, version)
		var p Publish
		buf := make([]byte, 0, 256)
		n := testing.AllocsPerRun(1000, func() {
			h, err := ParseFixedHeader(raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Decode(h.Flags, raw[h.HeaderLen:], version); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("decode QoS 0 PUBLISH v%d: %v allocs/op, want 0", version, n)
		}
		n = testing.AllocsPerRun(1000, func() { buf = AppendPublish(buf[:0], &benchPub, version) })
		if n != 0 {
			t.Errorf("encode QoS 0 PUBLISH v%d: %v allocs/op, want 0", version, n)
		}
	}
}

// Decoding every vector into a warmed-up struct, and encoding it into a
// buffer with room, allocates nothing; failures return preallocated errors.
func TestVectorAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	for _, c := range codectest.All() {
		if c.Incomplete {
			continue
		}
		h, err := ParseFixedHeader(c.Raw)
		if err != nil {
			if n := testing.AllocsPerRun(100, func() { _, _ = ParseFixedHeader(c.Raw) }); n != 0 {
				t.Errorf("%s: header error allocates %v", c.Name, n)
			}
			continue
		}
		body := c.Raw[h.HeaderLen:]
		pkt, _ := decodePacket(h, body, c.Version) // warm up slice capacity
		if n := testing.AllocsPerRun(100, func() { _, _ = decodeInto(pkt, h, body, c.Version) }); n != 0 {
			t.Errorf("%s: decode allocates %v", c.Name, n)
		}
		if c.Fail {
			continue
		}
		if n := testing.AllocsPerRun(100, func() { buf = encodePacket(buf[:0], c.Type, pkt, c.Version) }); n != 0 {
			t.Errorf("%s: encode allocates %v", c.Name, n)
		}
	}
}

func TestCloneAllocs(t *testing.T) {
	p := fullProps()
	if n := testing.AllocsPerRun(100, func() { _ = p.Clone() }); n != 3 {
		t.Errorf("Clone of full properties: %v allocs, want 3 (bytes, User, SubscriptionIDs)", n)
	}
	var q Properties
	q.Set(PropContentType)
	q.ContentType = []byte("x")
	if n := testing.AllocsPerRun(100, func() { _ = q.Clone() }); n != 1 {
		t.Errorf("Clone of one string property: %v allocs, want 1", n)
	}
}
