package codec_test

import (
	"bytes"
	"testing"

	. "github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/codec/codectest"
)

// fullProps sets every property (values valid for encoding; no packet type
// allows them all at once).
func fullProps() Properties {
	var p Properties
	for _, id := range []PropID{PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
		PropCorrelationData, PropSessionExpiry, PropAssignedClientID, PropServerKeepAlive, PropAuthMethod,
		PropAuthData, PropRequestProblemInfo, PropWillDelay, PropRequestResponseInfo, PropResponseInfo,
		PropServerReference, PropReasonString, PropReceiveMaximum, PropTopicAliasMaximum, PropTopicAlias,
		PropMaximumQoS, PropRetainAvailable, PropMaximumPacketSize, PropWildcardSubAvailable,
		PropSubIDAvailable, PropSharedSubAvailable} {
		p.Set(id)
	}
	p.PayloadFormat, p.MessageExpiry, p.ContentType, p.ResponseTopic = 1, 2, []byte("ct"), []byte("rt")
	p.CorrelationData, p.SubscriptionIDs, p.SessionExpiry = []byte("cd"), []uint32{1, 268435455}, 3
	p.AssignedClientID, p.ServerKeepAlive, p.AuthMethod, p.AuthData = []byte("aci"), 4, []byte("am"), []byte("ad")
	p.RequestProblemInfo, p.WillDelay, p.RequestResponseInfo = 1, 5, 1
	p.ResponseInfo, p.ServerReference, p.ReasonString = []byte("ri"), []byte("sr"), []byte("rs")
	p.ReceiveMaximum, p.TopicAliasMaximum, p.TopicAlias, p.MaximumQoS, p.RetainAvailable = 6, 7, 8, 1, 1
	p.User = []UserProperty{{Key: []byte("k1"), Value: []byte("v1")}, {Key: []byte("k2"), Value: []byte("")}}
	p.MaximumPacketSize, p.WildcardSubAvailable, p.SubIDAvailable, p.SharedSubAvailable = 9, 1, 1, 1
	return p
}

func TestPropertiesLenMatchesEncoding(t *testing.T) {
	p := fullProps()
	enc := AppendProperties(nil, &p)
	n, k, err := ReadVarInt(enc)
	if err != nil || int(n) != p.Len() || k+int(n) != len(enc) {
		t.Fatalf("Len %d, encoded %d+%d (%v)", p.Len(), k, len(enc)-k, err)
	}
	var empty Properties
	if empty.Len() != 0 || !bytes.Equal(AppendProperties(nil, &empty), []byte{0}) || !empty.Empty() {
		t.Fatal("empty properties")
	}
	if p.Empty() {
		t.Fatal("full properties report Empty")
	}
}

func TestPropertiesHasSetReset(t *testing.T) {
	var p Properties
	if p.Has(PropTopicAlias) {
		t.Fatal("zero value has a property")
	}
	p.Set(PropTopicAlias)
	p.TopicAlias = 4
	if !p.Has(PropTopicAlias) || p.Has(PropUser) {
		t.Fatal("Set/Has")
	}
	p.User = append(p.User, UserProperty{Key: []byte("k")})
	p.SubscriptionIDs = append(p.SubscriptionIDs, 1, 2)
	uc, sc := cap(p.User), cap(p.SubscriptionIDs)
	p.Reset()
	if p.Present != 0 || p.TopicAlias != 0 || len(p.User) != 0 || len(p.SubscriptionIDs) != 0 {
		t.Fatalf("Reset left %+v", p)
	}
	if cap(p.User) != uc || cap(p.SubscriptionIDs) != sc {
		t.Fatal("Reset dropped capacity")
	}
}

// Slices are written when non-empty even without their Present bit, and a
// Present bit alone writes nothing for them.
func TestPropertiesSliceEncoding(t *testing.T) {
	var p Properties
	p.User = []UserProperty{{Key: []byte("a"), Value: []byte("b")}}
	p.SubscriptionIDs = []uint32{7}
	want := []byte{9, 0x0B, 7, 0x26, 0, 1, 'a', 0, 1, 'b'}
	if got := AppendProperties(nil, &p); !bytes.Equal(got, want) {
		t.Fatalf("got % x want % x", got, want)
	}
	var q Properties
	q.Set(PropUser)
	q.Set(PropSubscriptionID)
	if got := AppendProperties(nil, &q); !bytes.Equal(got, []byte{0}) || !q.Empty() {
		t.Fatalf("bits without slices wrote % x", got)
	}
}

func TestPropertiesDecodeEveryPacketType(t *testing.T) {
	// Encoding every property and decoding it in each packet type must fail
	// with ProtocolError (no packet allows them all); decoding only the
	// allowed ones must round trip.
	full := fullProps()
	full.SubscriptionIDs = full.SubscriptionIDs[:1]
	enc := AppendProperties(nil, &full)
	for _, pkt := range []PacketType{WillProperties, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL,
		PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH} {
		var p Properties
		_, err := DecodeProperties(enc, pkt, &p)
		if code, _ := codeOf(err); code != ProtocolError {
			t.Errorf("%v: all properties gave %v, want ProtocolError", pkt, err)
		}
	}
}

func TestPropertiesClone(t *testing.T) {
	for _, c := range codectest.All() {
		if c.Fail || c.Incomplete || c.Packet == nil {
			continue
		}
		raw := append([]byte(nil), c.Raw...)
		_, pkt, err := decodeWhole(raw, c.Version)
		if err != nil {
			t.Fatal(err)
		}
		var props *Properties
		switch p := pkt.(type) {
		case *Connect:
			props = &p.WillProps
			if p.WillProps.Empty() {
				props = &p.Props
			}
		case *Connack:
			props = &p.Props
		case *Publish:
			props = &p.Props
		case *Disconnect:
			props = &p.Props
		case *Auth:
			props = &p.Props
		case *Ack:
			props = &p.Props
		case *Subscribe:
			props = &p.Props
		default:
			continue
		}
		clone := props.Clone()
		before := AppendProperties(nil, props)
		for i := range raw { // scribble over the decoded input
			raw[i] = 0xEE
		}
		if after := AppendProperties(nil, &clone); !bytes.Equal(before, after) {
			t.Errorf("%s: clone changed with its source:\n% x\n% x", c.Name, before, after)
		}
		// Appending to a cloned field must not overwrite its neighbour.
		if len(clone.User) > 0 {
			_ = append(clone.User[0].Key, 'X', 'X', 'X', 'X')
			if after := AppendProperties(nil, &clone); !bytes.Equal(before, after) {
				t.Errorf("%s: append to a cloned key overwrote other fields", c.Name)
			}
		}
	}
}

func TestDecodedSlicesAreClipped(t *testing.T) {
	raw := []byte{0x30, 12, 0, 5, 'a', '/', 'b', '/', 'c', 'h', 'e', 'l', 'l', 'o'}
	var p Publish
	if err := p.Decode(raw[0]&15, raw[2:], Version311); err != nil {
		t.Fatal(err)
	}
	_ = append(p.Topic, 'X')
	if raw[9] != 'h' {
		t.Fatal("append to the decoded topic overwrote the payload")
	}
	if cap(p.Payload) != len(p.Payload) {
		t.Fatal("payload capacity runs past the packet")
	}
}
