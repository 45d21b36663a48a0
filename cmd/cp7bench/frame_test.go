package main

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// A stream of packets of very different sizes, read one byte at a time and
// then in odd chunks, comes out whole and in order, and the buffer grows
// only as far as the largest packet.
func TestFrameReaderSplitsAndGrows(t *testing.T) {
	var stream []byte
	sizes := []int{0, 8, 100, 5000, 70000, 64, 3}
	for i, n := range sizes {
		stream = appendPublish(stream, 4, 0, false, 0, []byte("t/x"), bytes.Repeat([]byte{byte(i)}, n))
	}
	stream = appendAck(stream, pktPuback, 7, 4)
	for name, r := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(stream)),
		"half":     iotest.HalfReader(bytes.NewReader(stream)),
		"whole":    bytes.NewReader(stream),
	} {
		fr := newFrameReader(r, idleBuf)
		for i, n := range sizes {
			h, body, err := fr.read()
			if err != nil || h.typ != pktPublish {
				t.Fatalf("%s: packet %d: type %d err %v", name, i, h.typ, err)
			}
			_, _, payload, err := decodePublish(h.flags, body, 4)
			if err != nil || len(payload) != n || (n > 0 && payload[n-1] != byte(i)) {
				t.Fatalf("%s: packet %d: payload %d bytes, want %d (%v)", name, i, len(payload), n, err)
			}
		}
		h, body, err := fr.read()
		if err != nil || h.typ != pktPuback {
			t.Fatalf("%s: last packet type %d err %v", name, h.typ, err)
		}
		if id, _, err := decodeAck(h.typ, body, 4); err != nil || id != 7 {
			t.Fatalf("%s: puback id %d err %v", name, id, err)
		}
		if _, _, err := fr.read(); err != io.EOF {
			t.Fatalf("%s: after the stream: %v, want EOF", name, err)
		}
		if len(fr.buf) > 2*70100 {
			t.Fatalf("%s: buffer grew to %d for a 70 KB packet", name, len(fr.buf))
		}
	}
}

func TestFrameReaderRejectsGarbage(t *testing.T) {
	fr := newFrameReader(bytes.NewReader([]byte{0x00, 0x00}), idleBuf) // packet type 0 is reserved
	if _, _, err := fr.read(); err == nil {
		t.Fatal("type 0 accepted")
	}
}

func BenchmarkPublishEncodeDecode(b *testing.B) {
	payload := make([]byte, 64)
	topic := []byte("bench/in/1")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(appendPublish(nil, 4, 0, false, 0, topic, payload))))
	for b.Loop() {
		buf = appendPublish(buf[:0], 4, 0, false, 0, topic, payload)
		h, _ := parseHeader(buf)
		if _, _, _, err := decodePublish(h.flags, buf[h.headerLen:], 4); err != nil {
			b.Fatal(err)
		}
	}
}
