package codec_test

import (
	"bytes"
	"fmt"
	"testing"

	. "github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/codec/codectest"
)

// streamResult records what a stream parse saw, to compare split and
// unsplit feeds.
type streamResult struct {
	packets [][]byte // complete packets, in order
	err     error    // the fixed-header error that stopped the stream, if any
}

// parseStream feeds chunks into a growing buffer the way the broker's
// OnTraffic loop does: parse every complete packet, stop on ErrIncomplete or
// a short body until more bytes come, stop for good on a header error.
// check is called on each complete packet.
func parseStream(t *testing.T, chunks [][]byte, check func([]byte)) streamResult {
	var res streamResult
	var buf []byte
	for _, c := range chunks {
		buf = append(buf, c...)
		for len(buf) > 0 {
			h, err := ParseFixedHeader(buf)
			if err == ErrIncomplete {
				if len(buf) >= 5 {
					t.Fatalf("ErrIncomplete with %d bytes: % x", len(buf), buf[:5])
				}
				break
			}
			if err != nil {
				if _, ok := codeOf(err); !ok {
					t.Fatalf("ParseFixedHeader error %v is not a *codec.Error", err)
				}
				res.err = err
				return res
			}
			if h.HeaderLen < 2 || h.HeaderLen > 5 || h.Remaining < 0 || h.Remaining > MaxRemaining {
				t.Fatalf("bad header %+v", h)
			}
			if len(buf) < h.Len() {
				break
			}
			pkt := buf[:h.Len():h.Len()]
			res.packets = append(res.packets, pkt)
			check(pkt)
			buf = buf[h.Len():]
		}
	}
	return res
}

// checkPacket decodes one complete packet for version; when that succeeds,
// encode → decode must give an equal value, encoding again must give the
// same bytes, and decoding into a reused dirty struct must agree.
func checkPacket(t *testing.T, pkt []byte, version byte, reuse map[PacketType]any) {
	h, err := ParseFixedHeader(pkt)
	if err != nil {
		t.Fatalf("header of a complete packet: %v", err)
	}
	body := pkt[h.HeaderLen:]
	orig := append([]byte(nil), body...)
	got, err := decodePacket(h, body, version)
	if !bytes.Equal(body, orig) {
		t.Fatalf("Decode modified its input")
	}
	again, err2 := decodeInto(reuse[h.Type], h, body, version)
	if (err == nil) != (err2 == nil) {
		t.Fatalf("fresh decode err %v, reused decode err %v", err, err2)
	}
	if err != nil {
		if _, ok := codeOf(err); !ok && h.Type != 0 {
			t.Fatalf("decode error %v (%T) is not a *codec.Error", err, err)
		}
		return
	}
	if d := codectest.Diff(got, again); d != "" {
		t.Fatalf("reused struct differs: %s", d)
	}
	if again != nil {
		reuse[h.Type] = again
	}
	enc := encodePacket(nil, h.Type, got, version)
	if p, ok := got.(*Publish); ok && PublishLen(p, version) != len(enc) {
		t.Fatalf("PublishLen %d, encoded %d", PublishLen(p, version), len(enc))
	}
	_, back, err := decodeWhole(enc, version)
	if err != nil {
		t.Fatalf("re-encoded %v does not decode: %v\n in: % x\nout: % x", h.Type, err, pkt, enc)
	}
	if d := codectest.Diff(got, back); d != "" {
		t.Fatalf("round trip of %v: %s\n in: % x\nout: % x", h.Type, d, pkt, enc)
	}
	if enc2 := encodePacket(nil, h.Type, back, version); !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding is not stable:\n% x\n% x", enc, enc2)
	}
}

func FuzzDecode(f *testing.F) {
	var all []byte
	for _, c := range codectest.All() {
		f.Add(c.Raw, uint16(len(c.Raw)/2))
		if !c.Fail && !c.Incomplete {
			all = append(all, c.Raw...)
		}
	}
	f.Add(all, uint16(len(all)/3))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		at := 0
		if len(data) > 0 {
			at = int(split) % (len(data) + 1)
		}
		for _, version := range []byte{Version311, Version5} {
			reuse := map[PacketType]any{}
			check := func(pkt []byte) { checkPacket(t, pkt, version, reuse) }
			whole := parseStream(t, [][]byte{data}, check)
			halves := parseStream(t, [][]byte{data[:at], data[at:]}, func([]byte) {})
			if fmt.Sprint(whole.err) != fmt.Sprint(halves.err) || len(whole.packets) != len(halves.packets) {
				t.Fatalf("split at %d: %d packets (%v), whole: %d packets (%v)",
					at, len(halves.packets), halves.err, len(whole.packets), whole.err)
			}
			for i := range whole.packets {
				if !bytes.Equal(whole.packets[i], halves.packets[i]) {
					t.Fatalf("split at %d: packet %d differs", at, i)
				}
			}
		}
	})
}

func FuzzConnect(f *testing.F) {
	for _, c := range codectest.Connect {
		if h, err := ParseFixedHeader(c.Raw); err == nil && h.Len() == len(c.Raw) {
			f.Add(c.Raw[h.HeaderLen:])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Connect
		err := p.Decode(body)
		if err != nil {
			code, ok := codeOf(err)
			if !ok {
				t.Fatalf("error %v is not a *codec.Error", err)
			}
			if code == UnsupportedProtocolVersion && len(p.ProtocolName) == 0 {
				t.Fatal("UnsupportedProtocolVersion without the protocol name")
			}
			return
		}
		switch p.ProtocolVersion {
		case Version31, Version311, Version5:
		default:
			t.Fatalf("accepted protocol level %d", p.ProtocolVersion)
		}
		enc := AppendConnect(nil, &p)
		if !bytes.Equal(enc[len(enc)-len(body):], body) {
			// Every field of a valid CONNECT is canonical except the v5
			// property order; both must still decode the same.
			if p.ProtocolVersion != Version5 {
				t.Fatalf("3.x CONNECT not re-encoded byte for byte:\n% x\n% x", body, enc)
			}
		}
		_, back, err := decodeWhole(enc, p.ProtocolVersion)
		if err != nil {
			t.Fatalf("re-encoded CONNECT does not decode: %v", err)
		}
		if d := codectest.Diff(&p, back); d != "" {
			t.Fatalf("round trip: %s", d)
		}
	})
}
