package codec_test

import (
	"bytes"
	"testing"

	. "github.com/cp7/cp7/codec"
)

// TestPublishTopicChecks puts each kind of forbidden byte at every position
// of topics long enough to take the eight-bytes-at-a-time path.
func TestPublishTopicChecks(t *testing.T) {
	bad := []struct {
		b    []byte
		code ReasonCode
	}{
		{[]byte{'+'}, TopicNameInvalid},
		{[]byte{'#'}, TopicNameInvalid},
		{[]byte{0}, MalformedPacket},
		{[]byte{0xFF}, MalformedPacket},
		{[]byte{0xED, 0xA0, 0x80}, MalformedPacket}, // surrogate
	}
	for _, n := range []int{1, 7, 8, 9, 16, 17, 31} {
		for pos := 0; pos < n; pos++ {
			for _, c := range bad {
				topic := append(append(bytes.Repeat([]byte{'a'}, pos), c.b...), bytes.Repeat([]byte{'z'}, n-pos)...)
				raw := AppendPublish(nil, &Publish{Topic: topic, Payload: []byte("p")}, Version311)
				_, _, err := decodeWhole(raw, Version311)
				if code, _ := codeOf(err); code != c.code {
					t.Fatalf("topic %q: %v, want %v", topic, err, c.code)
				}
			}
			// Multi-byte characters then a wildcard further on.
			topic := append(append([]byte("é/"), bytes.Repeat([]byte{'a'}, pos)...), '#')
			raw := AppendPublish(nil, &Publish{Topic: topic}, Version5)
			if _, _, err := decodeWhole(raw, Version5); err == nil {
				t.Fatalf("topic %q accepted", topic)
			}
		}
		topic := append([]byte("日本/"), bytes.Repeat([]byte{'x'}, n)...)
		raw := AppendPublish(nil, &Publish{Topic: topic}, Version5)
		if _, _, err := decodeWhole(raw, Version5); err != nil {
			t.Fatalf("topic %q: %v", topic, err)
		}
	}
}
