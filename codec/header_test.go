package codec_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	. "github.com/cp7/cp7/codec"
)

func TestVarInt(t *testing.T) {
	cases := []struct {
		v   uint32
		enc []byte
	}{
		{0, []byte{0x00}},
		{127, []byte{0x7F}},
		{128, []byte{0x80, 0x01}},
		{16383, []byte{0xFF, 0x7F}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{2097151, []byte{0xFF, 0xFF, 0x7F}},
		{2097152, []byte{0x80, 0x80, 0x80, 0x01}},
		{MaxRemaining, []byte{0xFF, 0xFF, 0xFF, 0x7F}},
	}
	for _, c := range cases {
		if got := AppendVarInt(nil, c.v); !bytes.Equal(got, c.enc) {
			t.Errorf("AppendVarInt(%d) = % x, want % x", c.v, got, c.enc)
		}
		if n := VarIntLen(c.v); n != len(c.enc) {
			t.Errorf("VarIntLen(%d) = %d, want %d", c.v, n, len(c.enc))
		}
		v, n, err := ReadVarInt(append(c.enc, 0xEE))
		if err != nil || v != c.v || n != len(c.enc) {
			t.Errorf("ReadVarInt(% x) = %d, %d, %v", c.enc, v, n, err)
		}
		for cut := 0; cut < len(c.enc); cut++ {
			if _, _, err := ReadVarInt(c.enc[:cut]); err != ErrIncomplete {
				t.Errorf("ReadVarInt(% x) = %v, want ErrIncomplete", c.enc[:cut], err)
			}
		}
	}
	for _, bad := range [][]byte{{0xFF, 0xFF, 0xFF, 0xFF, 0x01}, {0x80, 0x00}, {0xFF, 0x80, 0x00}} {
		_, _, err := ReadVarInt(bad)
		if code, ok := codeOf(err); !ok || code != MalformedPacket {
			t.Errorf("ReadVarInt(% x) = %v, want MalformedPacket", bad, err)
		}
	}
}

func TestParseFixedHeader(t *testing.T) {
	for typ := CONNECT; typ <= AUTH; typ++ {
		var flags byte
		if typ == PUBREL || typ == SUBSCRIBE || typ == UNSUBSCRIBE {
			flags = 0b0010
		}
		for _, rem := range []int{0, 1, 127, 128, 16383, 16384, 2097152, MaxRemaining} {
			b := AppendFixedHeader(nil, typ, flags, rem)
			h, err := ParseFixedHeader(b)
			if err != nil {
				t.Fatalf("%v %d: %v", typ, rem, err)
			}
			want := FixedHeader{Type: typ, Flags: flags, Remaining: rem, HeaderLen: len(b)}
			if h != want || h.Len() != len(b)+rem {
				t.Fatalf("got %+v, want %+v", h, want)
			}
		}
		// Every other flags nibble is malformed, except PUBLISH's.
		for f := byte(0); f < 16; f++ {
			_, err := ParseFixedHeader([]byte{byte(typ)<<4 | f, 0})
			ok := f == flags
			if typ == PUBLISH {
				ok = f&0b0110 != 0b0110
			}
			if (err == nil) != ok {
				t.Errorf("%v flags %04b: err %v", typ, f, err)
			}
		}
	}
	for _, b := range [][]byte{nil, {0x30}, {0x30, 0x80}, {0x30, 0x80, 0x80}, {0x30, 0x80, 0x80, 0x80}} {
		if _, err := ParseFixedHeader(b); err != ErrIncomplete {
			t.Errorf("ParseFixedHeader(% x) = %v, want ErrIncomplete", b, err)
		}
	}
}

func TestCheckEmpty(t *testing.T) {
	if err := CheckEmpty(FixedHeader{Type: PINGREQ}); err != nil {
		t.Fatal(err)
	}
	if code, _ := codeOf(CheckEmpty(FixedHeader{Type: PINGREQ, Remaining: 1})); code != MalformedPacket {
		t.Fatal("PINGREQ with a body must be malformed")
	}
	if got := AppendPingreq(AppendPingresp(nil)); !bytes.Equal(got, []byte{0xD0, 0, 0xC0, 0}) {
		t.Fatalf("% x", got)
	}
}

func TestAppendString(t *testing.T) {
	if got := AppendString([]byte{9}, []byte("ab")); !bytes.Equal(got, []byte{9, 0, 2, 'a', 'b'}) {
		t.Fatalf("% x", got)
	}
	long := bytes.Repeat([]byte{'x'}, 300)
	if got := AppendString(nil, long); got[0] != 1 || got[1] != 44 || len(got) != 302 {
		t.Fatalf("% x", got[:2])
	}
}

// refValidUTF8 is the definition ValidUTF8 must match [MQTT-1.5.3-1,-2].
func refValidUTF8(s []byte) bool { return utf8.Valid(s) && bytes.IndexByte(s, 0) < 0 }

func TestValidUTF8(t *testing.T) {
	cases := []struct {
		s  string
		ok bool
	}{
		{"", true},
		{"a/b/c", true},
		{"sixteen-byte-str", true},
		{"exactly8", true},
		{"é/ü", true},
		{"日本語のトピック/センサー", true},
		{"emoji 😀 topic", true},
		{"\u007F\u0001 controls are allowed", true},
		{"\uFFFF", true},       // non-character, allowed
		{"\U0010FFFF", true},   // highest code point
		{"a\x00b", false},      // U+0000
		{"abcdefg\x00", false}, // NUL in the last byte of a word
		{"\x00bcdefgh", false}, // NUL in the first byte of a word
		{"abcdefgh\x00", false},
		{"\xC0\x80", false},         // overlong NUL
		{"\xED\xA0\x80", false},     // surrogate U+D800
		{"\xED\xBF\xBF", false},     // surrogate U+DFFF
		{"\xF4\x90\x80\x80", false}, // above U+10FFFF
		{"\xE2\x82", false},         // truncated
		{"\x80", false},             // lone continuation byte
		{"abcdefghijklmno\xFF", false},
		{"é\x00", false}, // NUL after the slow path starts
	}
	for _, c := range cases {
		if got := ValidUTF8([]byte(c.s)); got != c.ok {
			t.Errorf("ValidUTF8(%q) = %v, want %v", c.s, got, c.ok)
		}
		if ref := refValidUTF8([]byte(c.s)); ref != c.ok {
			t.Errorf("reference disagrees on %q", c.s)
		}
	}
}

func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "é", "a\x00", "\xED\xA0\x80", "abcdefgh\xC3\xA9ijklmnop"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		if got, want := ValidUTF8(s), refValidUTF8(s); got != want {
			t.Fatalf("ValidUTF8(%q) = %v, want %v", s, got, want)
		}
	})
}

func TestPacketTypeString(t *testing.T) {
	want := []string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
		"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}
	for i, w := range want {
		if got := PacketType(i).String(); got != w {
			t.Errorf("PacketType(%d) = %q, want %q", i, got, w)
		}
	}
	if PacketType(16).String() != "INVALID" {
		t.Error("PacketType(16)")
	}
}

func TestReasonCodeString(t *testing.T) {
	cases := map[ReasonCode]string{
		Success: "Success", GrantedQoS1: "GrantedQoS1", GrantedQoS2: "GrantedQoS2",
		DisconnectWithWillMessage: "DisconnectWithWillMessage", NoMatchingSubscribers: "NoMatchingSubscribers",
		NoSubscriptionExisted: "NoSubscriptionExisted", ContinueAuthentication: "ContinueAuthentication",
		ReAuthenticate: "ReAuthenticate", UnspecifiedError: "UnspecifiedError", MalformedPacket: "MalformedPacket",
		ProtocolError: "ProtocolError", ImplementationSpecificError: "ImplementationSpecificError",
		UnsupportedProtocolVersion: "UnsupportedProtocolVersion", ClientIdentifierNotValid: "ClientIdentifierNotValid",
		BadUserNameOrPassword: "BadUserNameOrPassword", NotAuthorized: "NotAuthorized",
		ServerUnavailable: "ServerUnavailable", ServerBusy: "ServerBusy", Banned: "Banned",
		ServerShuttingDown: "ServerShuttingDown", BadAuthenticationMethod: "BadAuthenticationMethod",
		KeepAliveTimeout: "KeepAliveTimeout", SessionTakenOver: "SessionTakenOver",
		TopicFilterInvalid: "TopicFilterInvalid", TopicNameInvalid: "TopicNameInvalid",
		PacketIdentifierInUse: "PacketIdentifierInUse", PacketIdentifierNotFound: "PacketIdentifierNotFound",
		ReceiveMaximumExceeded: "ReceiveMaximumExceeded", TopicAliasInvalid: "TopicAliasInvalid",
		PacketTooLarge: "PacketTooLarge", MessageRateTooHigh: "MessageRateTooHigh", QuotaExceeded: "QuotaExceeded",
		AdministrativeAction: "AdministrativeAction", PayloadFormatInvalid: "PayloadFormatInvalid",
		RetainNotSupported: "RetainNotSupported", QoSNotSupported: "QoSNotSupported",
		UseAnotherServer: "UseAnotherServer", ServerMoved: "ServerMoved",
		SharedSubscriptionsNotSupported: "SharedSubscriptionsNotSupported",
		ConnectionRateExceeded:          "ConnectionRateExceeded", MaximumConnectTime: "MaximumConnectTime",
		SubscriptionIdentifiersNotSupported: "SubscriptionIdentifiersNotSupported",
		WildcardSubscriptionsNotSupported:   "WildcardSubscriptionsNotSupported",
		0x42:                                "ReasonCode(0x42)",
	}
	for r, w := range cases {
		if got := r.String(); got != w {
			t.Errorf("ReasonCode(0x%02X) = %q, want %q", byte(r), got, w)
		}
	}
	if !MalformedPacket.IsError() || NoMatchingSubscribers.IsError() {
		t.Error("IsError")
	}
}

func TestV3ConnackCode(t *testing.T) {
	cases := map[ReasonCode]byte{
		Success: ConnAccepted, UnsupportedProtocolVersion: ConnRefusedProtocolVersion,
		ClientIdentifierNotValid: ConnRefusedIdentifierRejected, ServerUnavailable: ConnRefusedServerUnavailable,
		ServerBusy: ConnRefusedServerUnavailable, BadUserNameOrPassword: ConnRefusedBadUsernamePassword,
		NotAuthorized: ConnRefusedNotAuthorized, Banned: ConnRefusedServerUnavailable,
		MalformedPacket: ConnRefusedServerUnavailable, QuotaExceeded: ConnRefusedServerUnavailable,
	}
	for r, w := range cases {
		if got := V3ConnackCode(r); got != w {
			t.Errorf("V3ConnackCode(%v) = %d, want %d", r, got, w)
		}
	}
}
