package main

import (
	"encoding/binary"
	"strings"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
)

// hub is the relay's whole state of subscriptions, shared by both engines:
// a map for exact filters, a plain scan for the few with + or #. P is the
// engine's connection type. Not safe for concurrent use; the gnet engine
// locks around it.
type hub[P comparable] struct {
	exact map[string][]P
	wild  []wildSub[P]
}

type wildSub[P comparable] struct {
	filter string
	p      P
}

func newHub[P comparable]() *hub[P] { return &hub[P]{exact: map[string][]P{}} }

func (h *hub[P]) subscribe(p P, filter string) {
	if strings.ContainsAny(filter, "+#") {
		h.wild = append(h.wild, wildSub[P]{filter, p})
	} else {
		h.exact[filter] = append(h.exact[filter], p)
	}
}

// drop removes every subscription of p.
func (h *hub[P]) drop(p P) {
	wild := h.wild[:0]
	for _, w := range h.wild {
		if w.p != p {
			wild = append(wild, w)
		}
	}
	clear(h.wild[len(wild):])
	h.wild = wild
	for f, list := range h.exact {
		kept := list[:0]
		for _, x := range list {
			if x != p {
				kept = append(kept, x)
			}
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(h.exact, f)
		} else {
			h.exact[f] = kept
		}
	}
}

// frames calls fn for every complete packet in data (first byte, body, the
// whole frame) and returns the bytes used; false means the stream is not
// MQTT framing, or fn refused a packet, and the connection must end.
func frames(data []byte, fn func(first byte, body, frame []byte) bool) (int, bool) {
	used := 0
	for {
		h, err := codec.ParseFixedHeader(data[used:])
		if err == codec.ErrIncomplete {
			return used, true
		}
		if err != nil || len(data)-used < h.Len() {
			return used, err == nil
		}
		frame := data[used : used+h.Len()]
		if !fn(frame[0], frame[h.HeaderLen:], frame) {
			return used, false
		}
		used += h.Len()
	}
}

// packet is the relay's whole protocol: CONNACK for CONNECT, SUBACK for
// SUBSCRIBE (granting what was asked), PINGRESP for PINGREQ, each PUBLISH
// forwarded byte for byte to the matching subscribers and answered with
// PUBACK at QoS 1. It returns false to end the connection.
func packet[P comparable](h *hub[P], from P, first byte, body, frame []byte,
	reply func(b ...byte), forward func(to P, frame []byte)) bool {
	switch first >> 4 {
	case 1: // CONNECT
		reply(0x20, 0x02, 0x00, 0x00)
	case 3: // PUBLISH
		if len(body) < 2 {
			return false
		}
		tl := int(binary.BigEndian.Uint16(body))
		if len(body) < 2+tl {
			return false
		}
		topic := string(body[2 : 2+tl])
		for _, p := range h.exact[topic] {
			forward(p, frame)
		}
		for _, w := range h.wild {
			if router.TopicMatches(w.filter, topic) {
				forward(w.p, frame)
			}
		}
		if qos := (first >> 1) & 3; qos == 1 {
			if len(body) < 4+tl {
				return false
			}
			reply(0x40, 0x02, body[2+tl], body[3+tl])
		}
	case 8: // SUBSCRIBE: packet id, then (filter, options) pairs
		if len(body) < 2 {
			return false
		}
		ack := []byte{0x90, 0, body[0], body[1]}
		for p := body[2:]; len(p) >= 3; {
			fl := int(binary.BigEndian.Uint16(p))
			if len(p) < 3+fl {
				return false
			}
			h.subscribe(from, string(p[2:2+fl]))
			ack = append(ack, p[2+fl]&3)
			p = p[3+fl:]
		}
		ack[1] = byte(len(ack) - 2)
		reply(ack...)
	case 12: // PINGREQ
		reply(0xd0, 0x00)
	case 14: // DISCONNECT
		return false
	}
	return true // PUBACK from subscribers and anything else: ignored
}
