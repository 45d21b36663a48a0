package codec

// Disconnect is a DISCONNECT packet (3.1.1 §3.14, 5.0 §3.14). An MQTT 3
// DISCONNECT has an empty body. After Decode the byte fields of Props alias
// the decoded body.
type Disconnect struct {
	ReasonCode ReasonCode // v5 only
	Props      Properties // v5 only
}

// Decode decodes a DISCONNECT body for protocol version. In v5 an empty body
// means NormalDisconnection, and a one-byte body a reason code without
// properties (§3.14.2.2.1); the code must be one DISCONNECT allows.
func (p *Disconnect) Decode(body []byte, version byte) error {
	p.Props.Reset()
	p.ReasonCode = NormalDisconnection
	if version < Version5 {
		if len(body) != 0 {
			return errNotEmpty // 3.1.1 §3.14.2: no variable header, no payload
		}
		return nil
	}
	if len(body) == 0 {
		return nil
	}
	p.ReasonCode = ReasonCode(body[0])
	if !disconnectReasons.has(p.ReasonCode) {
		return errBadReasonCode // [MQTT-3.14.2-1]
	}
	if len(body) == 1 {
		return nil
	}
	n, err := DecodeProperties(body[1:], DISCONNECT, &p.Props)
	if err != nil {
		return err
	}
	if 1+n != len(body) {
		return errTrailing
	}
	return nil
}

// AppendDisconnect appends the DISCONNECT packet p for protocol version. In
// v5 the body is empty for NormalDisconnection without properties, and the
// reason code alone when there are no properties.
func AppendDisconnect(dst []byte, p *Disconnect, version byte) []byte {
	return appendReasonPacket(dst, DISCONNECT, p.ReasonCode, &p.Props, version < Version5, true)
}

// appendReasonPacket writes a DISCONNECT or AUTH: type, then nothing (empty
// or Success without properties), the reason code alone (allowed alone when
// short is set and there are no properties), or the code and properties.
func appendReasonPacket(dst []byte, t PacketType, r ReasonCode, props *Properties, empty, short bool) []byte {
	noProps := props.Empty()
	switch {
	case empty || (r == Success && noProps):
		return append(dst, byte(t)<<4, 0)
	case short && noProps:
		return append(dst, byte(t)<<4, 1, byte(r))
	}
	dst = AppendFixedHeader(dst, t, 0, 1+propsLen(props))
	dst = append(dst, byte(r))
	return AppendProperties(dst, props)
}

// Auth is an MQTT 5 AUTH packet (§3.15). After Decode the byte fields of
// Props alias the decoded body.
type Auth struct {
	ReasonCode ReasonCode
	Props      Properties
}

// Decode decodes an AUTH body. An empty body means Success without
// properties (§3.15.2.1); otherwise the reason code (Success,
// ContinueAuthentication or ReAuthenticate) is followed by properties.
func (p *Auth) Decode(body []byte) error {
	p.Props.Reset()
	p.ReasonCode = Success
	if len(body) == 0 {
		return nil
	}
	p.ReasonCode = ReasonCode(body[0])
	if !authReasons.has(p.ReasonCode) {
		return errBadReasonCode // [MQTT-3.15.2-1]
	}
	if len(body) == 1 {
		return errAuthNoProps // §3.15.2.2.1: only a zero remaining length omits the properties
	}
	n, err := DecodeProperties(body[1:], AUTH, &p.Props)
	if err != nil {
		return err
	}
	if 1+n != len(body) {
		return errTrailing
	}
	return nil
}

// AppendAuth appends the AUTH packet p: empty body for Success without
// properties, else the reason code and properties.
func AppendAuth(dst []byte, p *Auth) []byte {
	return appendReasonPacket(dst, AUTH, p.ReasonCode, &p.Props, false, false)
}

// AppendPingreq appends a PINGREQ packet.
func AppendPingreq(dst []byte) []byte { return append(dst, byte(PINGREQ)<<4, 0) }

// AppendPingresp appends a PINGRESP packet.
func AppendPingresp(dst []byte) []byte { return append(dst, byte(PINGRESP)<<4, 0) }
