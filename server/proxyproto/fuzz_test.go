package proxyproto

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics and keeps its contract on any
// input: a header's length is within the input and the limits, the same
// bytes parse the same way on their own, and every strict prefix of a header
// asks for more bytes (the event loop relies on that when bytes trickle in).
func FuzzParse(f *testing.F) {
	for _, v := range validVectors {
		f.Add(v.in)
		f.Add(append(append([]byte{}, v.in...), mqttConnect...))
	}
	for _, v := range badVectors {
		f.Add(v.in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if n != 0 || h != (Header{}) {
				t.Fatalf("error %v with header %+v n=%d", err, h, n)
			}
			if errors.Is(err, ErrIncomplete) && len(b) >= MaxLen {
				t.Fatalf("ErrIncomplete after %d bytes", len(b))
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("n = %d for %d input bytes", n, len(b))
		}
		if h.Version == 1 && n > MaxV1Len || h.Version == 2 && n > MaxV2Len || h.Version != 1 && h.Version != 2 {
			t.Fatalf("version %d header of %d bytes", h.Version, n)
		}
		if (h.Source == nil) != (h.Dest == nil) {
			t.Fatalf("only one address set: %+v", h)
		}
		if h.Command == CmdLocal && h.Source != nil {
			t.Fatalf("LOCAL header with addresses: %+v", h)
		}
		h2, n2, err2 := Parse(b[:n])
		if err2 != nil || n2 != n || h2.Version != h.Version || h2.Command != h.Command ||
			addrString(h2.Source) != addrString(h.Source) || addrString(h2.Dest) != addrString(h.Dest) {
			t.Fatalf("header alone parses differently: %+v %d %v vs %+v %d", h2, n2, err2, h, n)
		}
		// Strict prefixes (sampled for long headers) must be ErrIncomplete.
		step := 1 + n/64
		for i := 0; i < n; i += step {
			if _, _, err := Parse(b[:i]); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("prefix %d of a %d-byte header: %v", i, n, err)
			}
		}
	})
}
