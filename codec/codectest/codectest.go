// Package codectest holds byte-exact MQTT test vectors for package codec, in
// the style of mochi-mqtt's tpackets: one table of named cases per packet
// type (TConnectMqtt311, TConnectMalReservedBit, TPublishQos1, ...), raw
// bytes commented field by field, and the decoded value or the error code
// each must give.
//
// Naming: T<Packet><What>; "Mal" marks a malformed or protocol-violating
// input that must fail to decode, "Invalid" a well-formed packet whose
// values the protocol forbids.
//
// It is imported only by tests; production code must not depend on it.
package codectest

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/cp7/cp7/codec"
)

// Case is one test vector.
type Case struct {
	Name    string           // mochi-style identifier, unique across all tables
	Desc    string           // what the vector shows
	Version byte             // protocol version the packet is decoded with
	Type    codec.PacketType // packet type the raw bytes carry
	Raw     []byte           // the whole packet, fixed header included

	// Packet is the decoded value (*codec.Connect, *codec.Publish, ...; nil
	// for PINGREQ and PINGRESP). When Fail is set it may still be given: it
	// is then the struct as Decode leaves it (used for a CONNECT with an
	// unsupported level, whose name and level must be filled).
	Packet any

	Fail       bool             // decoding must fail ...
	Err        codec.ReasonCode // ... with an *codec.Error carrying this code
	Incomplete bool             // ParseFixedHeader must return codec.ErrIncomplete

	// DecodeOnly marks valid bytes that are not the encoder's canonical form
	// (for example an explicit zero property length that may be omitted):
	// decode is checked, encode is not compared byte for byte.
	DecodeOnly bool
}

// Tables, one per packet family.
var Tables = map[string][]Case{
	"FixedHeader": FixedHeader,
	"Connect":     Connect,
	"Connack":     Connack,
	"Publish":     Publish,
	"Ack":         Ack,
	"Subscribe":   Subscribe,
	"Suback":      Suback,
	"Unsubscribe": Unsubscribe,
	"Unsuback":    Unsuback,
	"Disconnect":  Disconnect,
	"Auth":        Auth,
	"Ping":        Ping,
}

// All returns every case of every table.
func All() []Case {
	var all []Case
	for _, name := range []string{"FixedHeader", "Connect", "Connack", "Publish", "Ack",
		"Subscribe", "Suback", "Unsubscribe", "Unsuback", "Disconnect", "Auth", "Ping"} {
		all = append(all, Tables[name]...)
	}
	return all
}

// present returns a Properties.Present mask with the given identifiers set.
func present(ids ...codec.PropID) uint64 {
	var m uint64
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}

func b(s string) []byte { return []byte(s) }

// Diff compares two decoded packets field by field and returns "" when they
// are equal, else the first difference. A nil and an empty slice compare
// equal, and slice capacity is ignored, since decoding yields sub-slices.
func Diff(want, got any) string {
	return diff("", reflect.ValueOf(want), reflect.ValueOf(got))
}

func diff(path string, a, b reflect.Value) string {
	if a.IsValid() != b.IsValid() {
		return fmt.Sprintf("%s: one side is nil", path)
	}
	if !a.IsValid() {
		return ""
	}
	if a.Type() != b.Type() {
		return fmt.Sprintf("%s: type %s != %s", path, a.Type(), b.Type())
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil != non-nil", path)
			}
			return ""
		}
		return diff(path, a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if d := diff(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				return fmt.Sprintf("%s: %q != %q", path, a.Bytes(), b.Bytes())
			}
			return ""
		}
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: len %d != %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if d := diff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); d != "" {
				return d
			}
		}
		return ""
	}
	if a.Interface() != b.Interface() {
		return fmt.Sprintf("%s: %v != %v", path, a.Interface(), b.Interface())
	}
	return ""
}
