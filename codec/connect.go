package codec

// Connect is a CONNECT packet (3.1.1 §3.1, 5.0 §3.1). After Decode its []byte
// fields alias the decoded body: valid only as long as it is, copy to keep.
type Connect struct {
	ProtocolName    []byte // "MQTT" or "MQIsdp"; encoding derives it from ProtocolVersion when empty
	ProtocolVersion byte   // Version31, Version311 or Version5
	CleanStart      bool   // Clean Session in 3.1.1
	KeepAlive       uint16
	Props           Properties // v5 only

	ClientID []byte

	WillFlag    bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties // v5 only
	WillTopic   []byte
	WillPayload []byte

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

// CONNECT flag bits (§3.1.2.3).
const (
	connectReserved   = 0x01
	connectCleanStart = 0x02
	connectWill       = 0x04
	connectWillQoS    = 0x18
	connectWillRetain = 0x20
	connectPassword   = 0x40
	connectUsername   = 0x80
)

var (
	nameMQTT   = []byte("MQTT")
	nameMQIsdp = []byte("MQIsdp")
)

// Decode decodes a CONNECT body (the bytes after the fixed header) into p,
// overwriting every field; it keeps the capacity of the property slices.
// Known protocols are "MQIsdp"/3, "MQTT"/4 and "MQTT"/5.
//
// A known name with an unknown level returns an *Error with Code
// UnsupportedProtocolVersion and ProtocolName/ProtocolVersion filled: the
// server answers CONNACK 0x01 (v3) or 0x84 and closes [MQTT-3.1.2-2]. An
// unknown name is a ProtocolError: close without CONNACK [MQTT-3.1.2-1].
// Client identifier length and emptiness are not checked here; the server
// applies those rules.
func (p *Connect) Decode(body []byte) error {
	props, willProps := p.Props, p.WillProps
	*p = Connect{Props: props, WillProps: willProps}
	p.Props.Reset()
	p.WillProps.Reset()

	name, i, err := readBinary(body, 0)
	if err != nil {
		return err
	}
	if i >= len(body) {
		return errShort
	}
	p.ProtocolName, p.ProtocolVersion = name, body[i]
	i++
	switch string(name) { // no allocation: the compiler compares in place
	case "MQTT":
		if p.ProtocolVersion != Version311 && p.ProtocolVersion != Version5 {
			return errProtocolVersion // [MQTT-3.1.2-2]
		}
	case "MQIsdp":
		if p.ProtocolVersion != Version31 {
			return errProtocolVersion // [MQTT-3.1.2-2]
		}
	default:
		return errProtocolName // [MQTT-3.1.2-1]
	}
	v5 := p.ProtocolVersion == Version5

	if i+3 > len(body) {
		return errShort
	}
	flags := body[i]
	p.KeepAlive = uint16(body[i+1])<<8 | uint16(body[i+2])
	i += 3
	if flags&connectReserved != 0 {
		return errConnectReserved // [MQTT-3.1.2-3]
	}
	p.CleanStart = flags&connectCleanStart != 0
	p.WillFlag = flags&connectWill != 0
	p.WillQoS = flags & connectWillQoS >> 3
	p.WillRetain = flags&connectWillRetain != 0
	p.UsernameFlag = flags&connectUsername != 0
	p.PasswordFlag = flags&connectPassword != 0
	if p.WillFlag {
		if p.WillQoS == 3 {
			return errWillQoS3 // [MQTT-3.1.2-14] (3.1.1), [MQTT-3.1.2-12] (5.0)
		}
	} else {
		if p.WillQoS != 0 {
			return errWillQoSNoFlag // [MQTT-3.1.2-13] (3.1.1), [MQTT-3.1.2-11] (5.0)
		}
		if p.WillRetain {
			return errWillRetainNoFlag // [MQTT-3.1.2-15] (3.1.1), [MQTT-3.1.2-13] (5.0)
		}
	}
	if p.ProtocolVersion == Version311 && p.PasswordFlag && !p.UsernameFlag {
		return errPasswordNoUser // [MQTT-3.1.2-22]; MQTT 5 allows a password alone
	}

	if v5 {
		n, err := DecodeProperties(body[i:], CONNECT, &p.Props)
		if err != nil {
			return err
		}
		i += n
	}
	if p.ClientID, i, err = readString(body, i); err != nil { // [MQTT-3.1.3-4]
		return err
	}
	if p.WillFlag {
		if v5 {
			n, err := DecodeProperties(body[i:], WillProperties, &p.WillProps)
			if err != nil {
				return err
			}
			i += n
		}
		if p.WillTopic, i, err = readString(body, i); err != nil { // [MQTT-3.1.3-10]
			return err
		}
		if p.WillPayload, i, err = readBinary(body, i); err != nil {
			return err
		}
	}
	if p.UsernameFlag {
		if p.Username, i, err = readString(body, i); err != nil { // [MQTT-3.1.3-11]
			return err
		}
	}
	if p.PasswordFlag {
		if p.Password, i, err = readBinary(body, i); err != nil {
			return err
		}
	}
	if i != len(body) {
		return errTrailing
	}
	return nil
}

// connectBodyLen returns the CONNECT remaining length.
func connectBodyLen(p *Connect) int {
	n := 2 + len(connectName(p)) + 1 + 1 + 2 + 2 + len(p.ClientID)
	v5 := p.ProtocolVersion == Version5
	if v5 {
		n += propsLen(&p.Props)
	}
	if p.WillFlag {
		if v5 {
			n += propsLen(&p.WillProps)
		}
		n += 4 + len(p.WillTopic) + len(p.WillPayload)
	}
	if p.UsernameFlag {
		n += 2 + len(p.Username)
	}
	if p.PasswordFlag {
		n += 2 + len(p.Password)
	}
	return n
}

func connectName(p *Connect) []byte {
	if len(p.ProtocolName) > 0 {
		return p.ProtocolName
	}
	if p.ProtocolVersion == Version31 {
		return nameMQIsdp
	}
	return nameMQTT
}

// AppendConnect appends the CONNECT packet p, in the form its
// ProtocolVersion selects (properties only for Version5). The will fields
// are written only when WillFlag is set, user name and password only when
// their flags are.
func AppendConnect(dst []byte, p *Connect) []byte {
	dst = AppendFixedHeader(dst, CONNECT, 0, connectBodyLen(p))
	dst = AppendString(dst, connectName(p))
	var flags byte
	if p.CleanStart {
		flags |= connectCleanStart
	}
	if p.WillFlag {
		flags |= connectWill | p.WillQoS&3<<3
		if p.WillRetain {
			flags |= connectWillRetain
		}
	}
	if p.PasswordFlag {
		flags |= connectPassword
	}
	if p.UsernameFlag {
		flags |= connectUsername
	}
	dst = append(dst, p.ProtocolVersion, flags)
	dst = appendUint16(dst, p.KeepAlive)
	v5 := p.ProtocolVersion == Version5
	if v5 {
		dst = AppendProperties(dst, &p.Props)
	}
	dst = AppendString(dst, p.ClientID)
	if p.WillFlag {
		if v5 {
			dst = AppendProperties(dst, &p.WillProps)
		}
		dst = AppendString(dst, p.WillTopic)
		dst = AppendString(dst, p.WillPayload)
	}
	if p.UsernameFlag {
		dst = AppendString(dst, p.Username)
	}
	if p.PasswordFlag {
		dst = AppendString(dst, p.Password)
	}
	return dst
}

// Connack is a CONNACK packet (3.1.1 §3.2, 5.0 §3.2). For MQTT 3 ReasonCode
// holds the return code byte (ConnAccepted ... ConnRefusedNotAuthorized);
// see V3ConnackCode.
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode
	Props          Properties // v5 only
}

// Decode decodes a CONNACK body for protocol version (a client's side).
// Byte fields of Props alias body.
func (p *Connack) Decode(body []byte, version byte) error {
	p.Props.Reset()
	if len(body) < 2 {
		return errShort
	}
	if body[0]&^1 != 0 {
		return errConnackFlags // [MQTT-3.2.2-1]
	}
	p.SessionPresent = body[0] == 1
	p.ReasonCode = ReasonCode(body[1])
	if version < Version5 {
		if len(body) != 2 {
			return errTrailing
		}
		if p.ReasonCode > ReasonCode(ConnRefusedNotAuthorized) {
			return errConnackV3Code // 3.1.1 §3.2.2.3: 6-255 reserved
		}
		return nil
	}
	if !connackReasons.has(p.ReasonCode) {
		return errBadReasonCode // [MQTT-3.2.2-8]
	}
	if len(body) == 2 {
		return nil // lenient: no property length means no properties
	}
	n, err := DecodeProperties(body[2:], CONNACK, &p.Props)
	if err != nil {
		return err
	}
	if 2+n != len(body) {
		return errTrailing
	}
	return nil
}

// AppendConnack appends the CONNACK packet p for protocol version.
func AppendConnack(dst []byte, p *Connack, version byte) []byte {
	rem := 2
	if version >= Version5 {
		rem += propsLen(&p.Props)
	}
	dst = AppendFixedHeader(dst, CONNACK, 0, rem)
	var flags byte
	if p.SessionPresent {
		flags = 1
	}
	dst = append(dst, flags, byte(p.ReasonCode))
	if version >= Version5 {
		dst = AppendProperties(dst, &p.Props)
	}
	return dst
}
