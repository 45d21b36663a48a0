package main

import (
	"fmt"

	"github.com/cp7/cp7/codec"
)

// This file is the tool's only contact with the codec package: packets are
// encoded by appending to a caller's buffer and decoded in place.

const (
	pktConnack    = byte(codec.CONNACK)
	pktPublish    = byte(codec.PUBLISH)
	pktPuback     = byte(codec.PUBACK)
	pktPubrec     = byte(codec.PUBREC)
	pktPubrel     = byte(codec.PUBREL)
	pktPubcomp    = byte(codec.PUBCOMP)
	pktSuback     = byte(codec.SUBACK)
	pktPingresp   = byte(codec.PINGRESP)
	pktDisconnect = byte(codec.DISCONNECT)
)

var errIncomplete = codec.ErrIncomplete

// header is the part of the fixed header the tool needs.
type header struct {
	typ       byte
	flags     byte
	remaining int
	headerLen int
}

func parseHeader(b []byte) (header, error) {
	h, err := codec.ParseFixedHeader(b)
	if err != nil {
		return header{}, err
	}
	return header{typ: byte(h.Type), flags: h.Flags, remaining: h.Remaining, headerLen: h.HeaderLen}, nil
}

// appendConnect encodes the client's CONNECT; -u and -P are templates (%i,
// %c), so a run can log in as many users.
func appendConnect(dst []byte, cfg *config, idx int, clientID string) []byte {
	c := codec.Connect{
		ProtocolVersion: byte(cfg.version),
		CleanStart:      cfg.clean,
		KeepAlive:       uint16(cfg.keepalive),
		ClientID:        []byte(clientID),
	}
	if cfg.user != "" {
		c.UsernameFlag, c.Username = true, []byte(expand(cfg.user, idx, clientID))
	}
	if cfg.pass != "" {
		c.PasswordFlag, c.Password = true, []byte(expand(cfg.pass, idx, clientID))
	}
	return codec.AppendConnect(dst, &c)
}

// connackCode returns the CONNACK's reason code (3.1.1 return codes are the
// same numbers below 0x80; any non-zero code is a refusal).
func connackCode(body []byte, version byte) (byte, error) {
	var c codec.Connack
	if err := c.Decode(body, version); err != nil {
		return 0, err
	}
	return byte(c.ReasonCode), nil
}

func appendSubscribe(dst []byte, version byte, id uint16, filter string, qos byte) []byte {
	s := codec.Subscribe{PacketID: id, Subs: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}
	return codec.AppendSubscribe(dst, &s, version)
}

// subackCode returns the first granted QoS or failure code of a SUBACK.
func subackCode(body []byte, version byte) (byte, error) {
	var s codec.Suback
	if err := s.Decode(body, version); err != nil {
		return 0, err
	}
	if len(s.ReasonCodes) == 0 {
		return 0, fmt.Errorf("cp7bench: SUBACK carries no return code")
	}
	return byte(s.ReasonCodes[0]), nil
}

// publisher-side template: topic and payload are reused for every message.
func appendPublish(dst []byte, version, qos byte, retain bool, id uint16, topic, payload []byte) []byte {
	p := codec.Publish{QoS: qos, Retain: retain, Topic: topic, PacketID: id, Payload: payload}
	return codec.AppendPublish(dst, &p, version)
}

// decodePublish returns a received PUBLISH's QoS, packet id and payload (a
// slice of body).
func decodePublish(flags byte, body []byte, version byte) (qos byte, id uint16, payload []byte, err error) {
	var p codec.Publish
	if err = p.Decode(flags, body, version); err != nil {
		return 0, 0, nil, err
	}
	return p.QoS, p.PacketID, p.Payload, nil
}

// appendAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success.
func appendAck(dst []byte, typ byte, id uint16, version byte) []byte {
	a := codec.Ack{Type: codec.PacketType(typ), PacketID: id}
	return codec.AppendAck(dst, &a, version)
}

// decodeAck returns an ack's packet id and reason code.
func decodeAck(typ byte, body []byte, version byte) (uint16, byte, error) {
	var a codec.Ack
	if err := a.Decode(codec.PacketType(typ), body, version); err != nil {
		return 0, 0, err
	}
	return a.PacketID, byte(a.ReasonCode), nil
}

func appendPingreq(dst []byte) []byte { return codec.AppendPingreq(dst) }

func appendDisconnect(dst []byte, version byte) []byte {
	return codec.AppendDisconnect(dst, &codec.Disconnect{}, version)
}
