package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Key layout. Every key starts with one byte naming its kind; client ids are
// length-prefixed so that one session's keys form a prefix of their own:
//
//	'r' topic                       retained message          → Msg
//	'm' id(8, big endian)           message stored once       → Msg
//	's' len(2) clientid             persistent session        → Session
//	'q' len(2) clientid seq(8)      a session's reference to a message
//	                                (queued or in flight)     → Ref
//	'i' len(2) clientid pid(2)      inbound QoS 2 id awaiting PUBREL → empty
//
// Values start with a format byte (formatV1) so a later layout can be told
// apart. Integers are unsigned varints unless fixed above.
const (
	kindRetained = 'r'
	kindMessage  = 'm'
	kindSession  = 's'
	kindRef      = 'q'
	kindQoS2     = 'i'
	formatV1     = 1
)

// Msg is an application message as stored: a retained message, a message
// referenced by sessions, or a delayed will. Props is the MQTT 5 property
// block as encoded on the wire (codec.AppendProperties), nil when none.
type Msg struct {
	Topic   []byte
	Payload []byte
	Props   []byte
	QoS     byte
	Retain  bool
	Expiry  int64 // Unix milliseconds when the message expires; 0 = never
}

// Sub is one subscription of a persistent session with its options.
type Sub struct {
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32
}

// Session is a persistent session's record: everything but its messages
// (Refs) and inbound QoS 2 ids, which have keys of their own so that one
// message does not rewrite the session.
type Session struct {
	ID       string
	Version  byte   // MQTT protocol level of the last connection
	Expiry   uint32 // session expiry interval, seconds (0xFFFFFFFF: never)
	ExpireAt int64  // Unix seconds when the offline session expires; 0 = connected when written, or never
	Subs     []Sub
	// Will is a delayed will (MQTT 5 Will Delay Interval) waiting to be sent
	// at WillAt (Unix seconds); nil when none.
	Will   *Msg
	WillAt int64
}

// Ref states: where a session's message stands.
const (
	RefQueued   byte = 0 // not sent yet (or QoS 1 sent: re-sent after a restart)
	RefSent     byte = 1 // QoS 2 sent with PID, waiting for PUBREC
	RefReceived byte = 2 // QoS 2 PUBREC'd, waiting for PUBCOMP (re-send PUBREL)
)

// Ref is one session's reference to a stored message.
type Ref struct {
	Seq    uint64 // the key's sequence: the session's order of messages
	Msg    uint64 // the message's id
	QoS    byte   // granted QoS of this delivery
	Retain bool   // retain flag to send
	State  byte
	PID    uint16
	SubIDs []uint32
	Group  string // shared subscription group, "" if none
	Filter string
}

// ErrBadRecord says a stored value does not decode.
var ErrBadRecord = errors.New("store: record does not decode")

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendMsg encodes m.
func AppendMsg(b []byte, m *Msg) []byte {
	b = append(b, formatV1, m.QoS|boolBit(m.Retain, 2))
	b = binary.AppendVarint(b, m.Expiry)
	b = appendBytes(b, m.Topic)
	b = appendBytes(b, m.Props)
	return append(b, m.Payload...) // the rest is the payload
}

func boolBit(v bool, bit uint) byte {
	if v {
		return 1 << bit
	}
	return 0
}

// reader decodes a value; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = ErrBadRecord
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = ErrBadRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = ErrBadRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns a length-prefixed field; it aliases the input.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = ErrBadRecord
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) format() {
	if f := r.byte(); r.err == nil && f != formatV1 {
		r.err = fmt.Errorf("store: unknown record format %d (written by a newer cp7?)", f)
	}
}

// DecodeMsg decodes a value written by AppendMsg into one allocation
// (topic, properties and payload share it): the result does not alias b.
func DecodeMsg(b []byte) (*Msg, error) {
	r := reader{b: b}
	r.format()
	flags := r.byte()
	exp := r.varint()
	topic := r.bytes()
	props := r.bytes()
	if r.err != nil {
		return nil, r.err
	}
	payload := r.b
	buf := make([]byte, len(topic)+len(props)+len(payload))
	n := copy(buf, topic)
	np := copy(buf[n:], props)
	copy(buf[n+np:], payload)
	m := &Msg{Topic: buf[:n:n], Payload: buf[n+np:], QoS: flags & 3, Retain: flags&4 != 0, Expiry: exp}
	if np > 0 {
		m.Props = buf[n : n+np : n+np]
	}
	return m, nil
}

// AppendSession encodes s (not its id, which is in the key).
func AppendSession(b []byte, s *Session) []byte {
	b = append(b, formatV1, s.Version)
	b = binary.AppendUvarint(b, uint64(s.Expiry))
	b = binary.AppendVarint(b, s.ExpireAt)
	b = binary.AppendUvarint(b, uint64(len(s.Subs)))
	for i := range s.Subs {
		sub := &s.Subs[i]
		b = appendString(b, sub.Filter)
		b = append(b, sub.QoS|boolBit(sub.NoLocal, 2)|boolBit(sub.RetainAsPublished, 3)|sub.RetainHandling<<4)
		b = binary.AppendUvarint(b, uint64(sub.ID))
	}
	if s.Will == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, s.WillAt)
	return AppendMsg(b, s.Will)
}

// DecodeSession decodes a session record; id comes from the key.
func DecodeSession(id string, b []byte) (*Session, error) {
	r := reader{b: b}
	r.format()
	s := &Session{ID: id, Version: r.byte()}
	s.Expiry = uint32(r.uvarint())
	s.ExpireAt = r.varint()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = ErrBadRecord
	}
	if r.err != nil {
		return nil, r.err
	}
	if n > 0 {
		s.Subs = make([]Sub, n)
	}
	for i := range s.Subs {
		sub := &s.Subs[i]
		sub.Filter = string(r.bytes())
		f := r.byte()
		sub.QoS, sub.NoLocal, sub.RetainAsPublished, sub.RetainHandling = f&3, f&4 != 0, f&8 != 0, f>>4&3
		sub.ID = uint32(r.uvarint())
	}
	if r.byte() == 1 {
		s.WillAt = r.varint()
		if r.err == nil {
			w, err := DecodeMsg(r.b)
			if err != nil {
				return nil, err
			}
			s.Will = w
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// AppendRef encodes r (not its session or sequence, which are in the key).
func AppendRef(b []byte, r *Ref) []byte {
	b = append(b, formatV1, r.QoS|boolBit(r.Retain, 2), r.State)
	b = binary.BigEndian.AppendUint64(b, r.Msg)
	b = binary.BigEndian.AppendUint16(b, r.PID)
	b = binary.AppendUvarint(b, uint64(len(r.SubIDs)))
	for _, id := range r.SubIDs {
		b = binary.AppendUvarint(b, uint64(id))
	}
	b = appendString(b, r.Group)
	return appendString(b, r.Filter)
}

// DecodeRef decodes a reference; seq comes from the key.
func DecodeRef(seq uint64, b []byte) (*Ref, error) {
	r := reader{b: b}
	r.format()
	f := r.byte()
	ref := &Ref{Seq: seq, QoS: f & 3, Retain: f&4 != 0, State: r.byte()}
	if r.err != nil || len(r.b) < 10 {
		return nil, ErrBadRecord
	}
	ref.Msg = binary.BigEndian.Uint64(r.b)
	ref.PID = binary.BigEndian.Uint16(r.b[8:])
	r.b = r.b[10:]
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		return nil, ErrBadRecord
	}
	for range n {
		ref.SubIDs = append(ref.SubIDs, uint32(r.uvarint()))
	}
	ref.Group = string(r.bytes())
	ref.Filter = string(r.bytes())
	if r.err != nil || ref.QoS == 0 || ref.State > RefReceived {
		return nil, ErrBadRecord
	}
	return ref, nil
}

// Keys.

func sessionPrefix(b []byte, kind byte, id string) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
	return append(b, id...)
}

func msgKey(b []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(b, kindMessage), id)
}

func refKey(b []byte, id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(sessionPrefix(b, kindRef, id), seq)
}

func qos2Key(b []byte, id string, pid uint16) []byte {
	return binary.BigEndian.AppendUint16(sessionPrefix(b, kindQoS2, id), pid)
}

// splitSessionKey returns the client id of a session-scoped key and what
// follows it.
func splitSessionKey(k []byte) (id string, rest []byte, ok bool) {
	if len(k) < 3 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(k[1:]))
	if len(k) < 3+n {
		return "", nil, false
	}
	return string(k[3 : 3+n]), k[3+n:], true
}

// prefixEnd is the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
