package codec_test

import (
	"errors"
	"fmt"

	. "github.com/cp7/cp7/codec"
)

// decodePacket decodes one packet body by its fixed header into a fresh
// value; PINGREQ and PINGRESP decode to nil.
func decodePacket(h FixedHeader, body []byte, version byte) (any, error) {
	return decodeInto(nil, h, body, version)
}

// decodeInto decodes into reuse when it has the right type (to check that
// decoding into a dirty struct leaves nothing behind), else into a fresh one.
func decodeInto(reuse any, h FixedHeader, body []byte, version byte) (any, error) {
	switch h.Type {
	case CONNECT:
		p, ok := reuse.(*Connect)
		if !ok {
			p = new(Connect)
		}
		return p, p.Decode(body)
	case CONNACK:
		p, ok := reuse.(*Connack)
		if !ok {
			p = new(Connack)
		}
		return p, p.Decode(body, version)
	case PUBLISH:
		p, ok := reuse.(*Publish)
		if !ok {
			p = new(Publish)
		}
		return p, p.Decode(h.Flags, body, version)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		p, ok := reuse.(*Ack)
		if !ok {
			p = new(Ack)
		}
		return p, p.Decode(h.Type, body, version)
	case SUBSCRIBE:
		p, ok := reuse.(*Subscribe)
		if !ok {
			p = new(Subscribe)
		}
		return p, p.Decode(body, version)
	case SUBACK:
		p, ok := reuse.(*Suback)
		if !ok {
			p = new(Suback)
		}
		return p, p.Decode(body, version)
	case UNSUBSCRIBE:
		p, ok := reuse.(*Unsubscribe)
		if !ok {
			p = new(Unsubscribe)
		}
		return p, p.Decode(body, version)
	case UNSUBACK:
		p, ok := reuse.(*Unsuback)
		if !ok {
			p = new(Unsuback)
		}
		return p, p.Decode(body, version)
	case DISCONNECT:
		p, ok := reuse.(*Disconnect)
		if !ok {
			p = new(Disconnect)
		}
		return p, p.Decode(body, version)
	case AUTH:
		p, ok := reuse.(*Auth)
		if !ok {
			p = new(Auth)
		}
		return p, p.Decode(body)
	case PINGREQ, PINGRESP:
		return nil, CheckEmpty(h)
	}
	return nil, fmt.Errorf("test: no decoder for packet type %d", h.Type)
}

// encodePacket appends pkt (as decodePacket returns it) for version; t is
// needed for PINGREQ and PINGRESP, which have no struct.
func encodePacket(dst []byte, t PacketType, pkt any, version byte) []byte {
	switch p := pkt.(type) {
	case *Connect:
		return AppendConnect(dst, p)
	case *Connack:
		return AppendConnack(dst, p, version)
	case *Publish:
		return AppendPublish(dst, p, version)
	case *Ack:
		return AppendAck(dst, p, version)
	case *Subscribe:
		return AppendSubscribe(dst, p, version)
	case *Suback:
		return AppendSuback(dst, p, version)
	case *Unsubscribe:
		return AppendUnsubscribe(dst, p, version)
	case *Unsuback:
		return AppendUnsuback(dst, p, version)
	case *Disconnect:
		return AppendDisconnect(dst, p, version)
	case *Auth:
		return AppendAuth(dst, p)
	}
	switch t {
	case PINGREQ:
		return AppendPingreq(dst)
	case PINGRESP:
		return AppendPingresp(dst)
	}
	panic(fmt.Sprintf("test: no encoder for %T", pkt))
}

// codeOf returns the reason code of a *Error, or ok=false.
func codeOf(err error) (ReasonCode, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

// decodeWhole parses the fixed header of raw, checks raw holds exactly one
// packet, and decodes it.
func decodeWhole(raw []byte, version byte) (FixedHeader, any, error) {
	h, err := ParseFixedHeader(raw)
	if err != nil {
		return h, nil, err
	}
	if h.Len() != len(raw) {
		return h, nil, fmt.Errorf("test: packet is %d bytes, header says %d", len(raw), h.Len())
	}
	p, err := decodePacket(h, raw[h.HeaderLen:], version)
	return h, p, err
}
