package codec_test

import (
	"bytes"
	"errors"
	"testing"

	. "github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/codec/codectest"
)

func TestVectors(t *testing.T) {
	for _, c := range codectest.All() {
		t.Run(c.Name, func(t *testing.T) {
			h, err := ParseFixedHeader(c.Raw)
			if c.Incomplete {
				if err != ErrIncomplete {
					t.Fatalf("ParseFixedHeader = %v, want ErrIncomplete", err)
				}
				return
			}
			if err != nil {
				if !c.Fail {
					t.Fatalf("ParseFixedHeader: %v", err)
				}
				checkCode(t, err, c.Err)
				return
			}
			if h.Type != c.Type {
				t.Fatalf("type %v, vector says %v", h.Type, c.Type)
			}
			if h.Len() != len(c.Raw) {
				t.Fatalf("vector is %d bytes, its header says %d", len(c.Raw), h.Len())
			}
			body := c.Raw[h.HeaderLen:]
			got, err := decodePacket(h, body, c.Version)
			if c.Fail {
				checkCode(t, err, c.Err)
				if c.Packet != nil {
					if d := codectest.Diff(c.Packet, got); d != "" {
						t.Fatalf("after the error: %s", d)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d := codectest.Diff(c.Packet, got); d != "" {
				t.Fatalf("decoded: %s", d)
			}

			// Decoding into a struct dirty from every other vector of the
			// same type gives the same result.
			for _, o := range codectest.All() {
				if o.Type != c.Type || o.Fail || o.Incomplete || o.Packet == nil {
					continue
				}
				dirty := clonePacket(t, o)
				again, err := decodeInto(dirty, h, body, c.Version)
				if err != nil {
					t.Fatalf("Decode into %s's struct: %v", o.Name, err)
				}
				if d := codectest.Diff(c.Packet, again); d != "" {
					t.Fatalf("decoded into %s's struct: %s", o.Name, d)
				}
			}

			enc := encodePacket(nil, c.Type, got, c.Version)
			if !c.DecodeOnly {
				if !bytes.Equal(enc, c.Raw) {
					t.Fatalf("encode decoded:\n got % x\nwant % x", enc, c.Raw)
				}
				if enc := encodePacket(nil, c.Type, c.Packet, c.Version); !bytes.Equal(enc, c.Raw) {
					t.Fatalf("encode vector struct:\n got % x\nwant % x", enc, c.Raw)
				}
				// Appending after existing bytes writes the same packet.
				pre := []byte("prefix")
				if enc := encodePacket(pre, c.Type, got, c.Version); !bytes.Equal(enc[len(pre):], c.Raw) || string(enc[:len(pre)]) != "prefix" {
					t.Fatalf("encode after a prefix: % x", enc)
				}
			}
			if p, ok := got.(*Publish); ok {
				if n := PublishLen(p, c.Version); n != len(enc) {
					t.Fatalf("PublishLen = %d, encoded %d bytes", n, len(enc))
				}
			}
			// Round trip.
			_, back, err := decodeWhole(enc, c.Version)
			if err != nil {
				t.Fatalf("decode re-encoded % x: %v", enc, err)
			}
			if d := codectest.Diff(c.Packet, back); d != "" {
				t.Fatalf("round trip: %s", d)
			}
		})
	}
}

// clonePacket decodes vector o into a fresh value it owns.
func clonePacket(t *testing.T, o codectest.Case) any {
	t.Helper()
	raw := append([]byte(nil), o.Raw...)
	_, p, err := decodeWhole(raw, o.Version)
	if err != nil {
		t.Fatalf("%s: %v", o.Name, err)
	}
	return p
}

func checkCode(t *testing.T, err error, want ReasonCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("decoded without error, want %v", want)
	}
	code, ok := codeOf(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *codec.Error", err, err)
	}
	if code != want {
		t.Fatalf("error code %v (%v), want %v", code, err, want)
	}
}

func TestVectorNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range codectest.All() {
		if seen[c.Name] {
			t.Errorf("duplicate vector name %s", c.Name)
		}
		seen[c.Name] = true
	}
}

// TestVectorsCoverEveryPacketAndProperty checks the tables hold a valid vector
// for every 3.1.1 and 5.0 packet type and every MQTT 5 property.
func TestVectorsCoverEveryPacketAndProperty(t *testing.T) {
	types := map[byte]map[PacketType]bool{Version311: {}, Version5: {}}
	var props uint64
	for _, c := range codectest.All() {
		if c.Fail || c.Incomplete {
			continue
		}
		if types[c.Version] != nil {
			types[c.Version][c.Type] = true
		}
		switch p := c.Packet.(type) {
		case *Connect:
			props |= p.Props.Present | p.WillProps.Present
		case *Connack:
			props |= p.Props.Present
		case *Publish:
			props |= p.Props.Present
		case *Ack:
			props |= p.Props.Present
		case *Subscribe:
			props |= p.Props.Present
		case *Suback:
			props |= p.Props.Present
		case *Unsubscribe:
			props |= p.Props.Present
		case *Unsuback:
			props |= p.Props.Present
		case *Disconnect:
			props |= p.Props.Present
		case *Auth:
			props |= p.Props.Present
		}
	}
	for typ := CONNECT; typ <= AUTH; typ++ {
		if typ != AUTH && !types[Version311][typ] {
			t.Errorf("no valid 3.1.1 vector for %v", typ)
		}
		if !types[Version5][typ] {
			t.Errorf("no valid 5.0 vector for %v", typ)
		}
	}
	all := []PropID{PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
		PropCorrelationData, PropSubscriptionID, PropSessionExpiry, PropAssignedClientID,
		PropServerKeepAlive, PropAuthMethod, PropAuthData, PropRequestProblemInfo, PropWillDelay,
		PropRequestResponseInfo, PropResponseInfo, PropServerReference, PropReasonString,
		PropReceiveMaximum, PropTopicAliasMaximum, PropTopicAlias, PropMaximumQoS,
		PropRetainAvailable, PropUser, PropMaximumPacketSize, PropWildcardSubAvailable,
		PropSubIDAvailable, PropSharedSubAvailable}
	for _, id := range all {
		if props&(1<<id) == 0 {
			t.Errorf("no valid vector carries property 0x%02X", byte(id))
		}
	}
}

// TestTruncatedVectors cuts every valid vector's body short by one byte and
// checks the result is an error (never a panic) unless the shorter body is
// itself a valid encoding (v5 omitted fields, empty payloads).
func TestTruncatedVectors(t *testing.T) {
	for _, c := range codectest.All() {
		if c.Fail || c.Incomplete {
			continue
		}
		h, err := ParseFixedHeader(c.Raw)
		if err != nil || h.Remaining == 0 {
			continue
		}
		for cut := 1; cut <= h.Remaining; cut++ {
			body := c.Raw[h.HeaderLen : len(c.Raw)-cut]
			p, err := decodePacket(h, body, c.Version)
			if err == nil {
				// Must then encode and decode back to itself.
				enc := encodePacket(nil, c.Type, p, c.Version)
				if _, back, err := decodeWhole(enc, c.Version); err != nil || codectest.Diff(p, back) != "" {
					t.Errorf("%s cut %d: decoded but does not round trip (%v)", c.Name, cut, err)
				}
				continue
			}
			if _, ok := codeOf(err); !ok {
				t.Errorf("%s cut %d: %v is not a *codec.Error", c.Name, cut, err)
			}
		}
	}
}

func TestErrorsCarryPrefix(t *testing.T) {
	for _, c := range codectest.All() {
		if !c.Fail {
			continue
		}
		_, _, err := decodeWhole(c.Raw, c.Version)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if msg := err.Error(); len(msg) < 8 || msg[:7] != "codec: " {
			t.Errorf("%s: error %q lacks the package prefix", c.Name, msg)
		}
	}
}
