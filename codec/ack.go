package codec

// Ack is a PUBACK, PUBREC, PUBREL or PUBCOMP packet (3.1.1 §3.4-3.7, 5.0
// §3.4-3.7). After Decode the byte fields of Props alias the decoded body.
type Ack struct {
	Type       PacketType // PUBACK, PUBREC, PUBREL or PUBCOMP
	PacketID   uint16
	ReasonCode ReasonCode // v5 only
	Props      Properties // v5 only
}

// Decode decodes the body of an acknowledgement of type t for protocol
// version. MQTT 3 bodies are exactly the packet identifier. In v5 a
// remaining length of 2 means Success without properties, and 3 a reason
// code without properties [MQTT-3.4.2.1]; the reason code must be one the
// packet type allows.
func (p *Ack) Decode(t PacketType, body []byte, version byte) error {
	p.Props.Reset()
	p.Type, p.ReasonCode = t, Success
	if len(body) < 2 {
		return errShort
	}
	p.PacketID = uint16(body[0])<<8 | uint16(body[1])
	if p.PacketID == 0 {
		return errPacketIDZero // §2.2.1: packet identifiers are non-zero
	}
	if version < Version5 {
		if len(body) != 2 {
			return errV3AckLen
		}
		return nil
	}
	if len(body) == 2 {
		return nil
	}
	p.ReasonCode = ReasonCode(body[2])
	allowed := &pubackReasons
	if t == PUBREL || t == PUBCOMP {
		allowed = &pubrelReasons
	}
	if !allowed.has(p.ReasonCode) {
		// [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]
		return errBadReasonCode
	}
	if len(body) == 3 {
		return nil
	}
	n, err := DecodeProperties(body[3:], t, &p.Props)
	if err != nil {
		return err
	}
	if 3+n != len(body) {
		return errTrailing
	}
	return nil
}

// AppendAck appends the acknowledgement p (its Type says which) for protocol
// version. In v5 the reason code and properties are omitted when the code is
// Success and there are no properties, and the properties alone when there
// are none. PUBREL gets fixed-header flags 0b0010 [MQTT-3.6.1-1].
func AppendAck(dst []byte, p *Ack, version byte) []byte {
	var flags byte
	if p.Type == PUBREL {
		flags = 0b0010
	}
	if version < Version5 || (p.ReasonCode == Success && p.Props.Empty()) {
		return appendUint16(append(dst, byte(p.Type)<<4|flags, 2), p.PacketID)
	}
	if p.Props.Empty() {
		dst = append(dst, byte(p.Type)<<4|flags, 3)
		return append(appendUint16(dst, p.PacketID), byte(p.ReasonCode))
	}
	dst = AppendFixedHeader(dst, p.Type, flags, 3+propsLen(&p.Props))
	dst = append(appendUint16(dst, p.PacketID), byte(p.ReasonCode))
	return AppendProperties(dst, &p.Props)
}
