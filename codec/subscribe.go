package codec

// Subscription is one topic filter and its options in a SUBSCRIBE.
type Subscription struct {
	Filter            []byte
	QoS               byte
	NoLocal           bool // v5
	RetainAsPublished bool // v5
	RetainHandling    byte // v5: 0, 1 or 2
}

// Subscribe is a SUBSCRIBE packet (3.1.1 §3.8, 5.0 §3.8). After Decode,
// filters and the byte fields of Props alias the decoded body.
type Subscribe struct {
	PacketID uint16
	Props    Properties     // v5 only
	Subs     []Subscription // decode appends, reusing capacity
}

// Subscription option bits (§3.8.3.1).
const (
	subQoS            = 0x03
	subNoLocal        = 0x04
	subRetainAsPub    = 0x08
	subRetainHandling = 0x30
	subReservedV5     = 0xC0
	subReservedV3     = 0xFC
)

// Decode decodes a SUBSCRIBE body for protocol version. Filters are checked
// for UTF-8 only; their syntax is the router's business, so that a v5
// server can refuse one filter in the SUBACK instead of the whole packet.
//
// Errors: no filter, retain handling 3 or packet identifier 0
// (ProtocolError); reserved option bits, QoS 3 or invalid UTF-8
// (MalformedPacket).
func (p *Subscribe) Decode(body []byte, version byte) error {
	p.Props.Reset()
	p.Subs = p.Subs[:0]
	var err error
	i := 0
	if p.PacketID, i, err = readUint16(body, i); err != nil {
		return err
	}
	if p.PacketID == 0 {
		return errPacketIDZero // [MQTT-2.2.1-3]
	}
	v5 := version >= Version5
	if v5 {
		n, err := DecodeProperties(body[i:], SUBSCRIBE, &p.Props)
		if err != nil {
			return err
		}
		i += n
	}
	for i < len(body) {
		var s Subscription
		if s.Filter, i, err = readString(body, i); err != nil { // [MQTT-3.8.3-1]
			return err
		}
		if i >= len(body) {
			return errShort
		}
		o := body[i]
		i++
		s.QoS = o & subQoS
		if v5 {
			if o&subReservedV5 != 0 {
				return errSubReserved // [MQTT-3.8.3-5]
			}
			s.NoLocal = o&subNoLocal != 0
			s.RetainAsPublished = o&subRetainAsPub != 0
			s.RetainHandling = o & subRetainHandling >> 4
			if s.RetainHandling == 3 {
				return errRetainHandling3 // §3.8.3.1: "Protocol Error to send ... 3"
			}
		} else if o&subReservedV3 != 0 {
			return errSubReserved // [MQTT-3.8.3-4] (3.1.1)
		}
		if s.QoS == 3 {
			return errSubQoS3 // [MQTT-3.8.3-4] (3.1.1), §3.8.3.1 (5.0)
		}
		p.Subs = append(p.Subs, s)
	}
	if len(p.Subs) == 0 {
		return errNoFilters // [MQTT-3.8.3-3] (3.1.1), [MQTT-3.8.3-2] (5.0)
	}
	return nil
}

// AppendSubscribe appends the SUBSCRIBE packet p for protocol version; MQTT
// 3 options carry only the QoS.
func AppendSubscribe(dst []byte, p *Subscribe, version byte) []byte {
	v5 := version >= Version5
	n := 2
	if v5 {
		n += propsLen(&p.Props)
	}
	for i := range p.Subs {
		n += 3 + len(p.Subs[i].Filter)
	}
	dst = AppendFixedHeader(dst, SUBSCRIBE, 0b0010, n)
	dst = appendUint16(dst, p.PacketID)
	if v5 {
		dst = AppendProperties(dst, &p.Props)
	}
	for i := range p.Subs {
		s := &p.Subs[i]
		o := s.QoS & subQoS
		if v5 {
			if s.NoLocal {
				o |= subNoLocal
			}
			if s.RetainAsPublished {
				o |= subRetainAsPub
			}
			o |= s.RetainHandling & 3 << 4
		}
		dst = append(AppendString(dst, s.Filter), o)
	}
	return dst
}

// Suback is a SUBACK packet (3.1.1 §3.9, 5.0 §3.9). For MQTT 3 the codes are
// the return codes 0, 1, 2 and 0x80.
type Suback struct {
	PacketID    uint16
	Props       Properties   // v5 only
	ReasonCodes []ReasonCode // decode appends, reusing capacity
}

// Decode decodes a SUBACK body for protocol version (a client's side).
func (p *Suback) Decode(body []byte, version byte) error {
	p.Props.Reset()
	p.ReasonCodes = p.ReasonCodes[:0]
	i, err := decodeAckHead(body, SUBACK, version, &p.PacketID, &p.Props)
	if err != nil {
		return err
	}
	if i == len(body) {
		return errNoReasonCodes // one code per filter, and there is at least one filter
	}
	for _, c := range body[i:] {
		r := ReasonCode(c)
		if version >= Version5 {
			if !subackReasons.has(r) {
				return errBadReasonCode // [MQTT-3.9.3-1] (5.0)
			}
		} else if r > GrantedQoS2 && r != UnspecifiedError {
			return errSubackV3Code // [MQTT-3.9.3-2] (3.1.1)
		}
		p.ReasonCodes = append(p.ReasonCodes, r)
	}
	return nil
}

// decodeAckHead reads the packet identifier and, for v5, the properties that
// start SUBACK and UNSUBACK bodies (and UNSUBSCRIBE's), returning the offset
// after them.
func decodeAckHead(body []byte, t PacketType, version byte, id *uint16, props *Properties) (int, error) {
	v, i, err := readUint16(body, 0)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, errPacketIDZero // §2.2.1: packet identifiers are non-zero
	}
	*id = v
	if version >= Version5 {
		n, err := DecodeProperties(body[i:], t, props)
		if err != nil {
			return 0, err
		}
		i += n
	}
	return i, nil
}

// AppendSuback appends the SUBACK packet p for protocol version.
func AppendSuback(dst []byte, p *Suback, version byte) []byte {
	n := 2 + len(p.ReasonCodes)
	if version >= Version5 {
		n += propsLen(&p.Props)
	}
	dst = AppendFixedHeader(dst, SUBACK, 0, n)
	dst = appendUint16(dst, p.PacketID)
	if version >= Version5 {
		dst = AppendProperties(dst, &p.Props)
	}
	for _, r := range p.ReasonCodes {
		dst = append(dst, byte(r))
	}
	return dst
}

// Unsubscribe is an UNSUBSCRIBE packet (3.1.1 §3.10, 5.0 §3.10). After
// Decode, filters and the byte fields of Props alias the decoded body.
type Unsubscribe struct {
	PacketID uint16
	Props    Properties // v5 only
	Filters  [][]byte   // decode appends, reusing capacity
}

// Decode decodes an UNSUBSCRIBE body for protocol version. At least one
// filter is required [MQTT-3.10.3-2]; filters are checked for UTF-8 only.
func (p *Unsubscribe) Decode(body []byte, version byte) error {
	p.Props.Reset()
	p.Filters = p.Filters[:0]
	i, err := decodeAckHead(body, UNSUBSCRIBE, version, &p.PacketID, &p.Props)
	if err != nil {
		return err
	}
	for i < len(body) {
		var f []byte
		if f, i, err = readString(body, i); err != nil { // [MQTT-3.10.3-1]
			return err
		}
		p.Filters = append(p.Filters, f)
	}
	if len(p.Filters) == 0 {
		return errNoFilters // [MQTT-3.10.3-2]
	}
	return nil
}

// AppendUnsubscribe appends the UNSUBSCRIBE packet p for protocol version.
func AppendUnsubscribe(dst []byte, p *Unsubscribe, version byte) []byte {
	n := 2
	if version >= Version5 {
		n += propsLen(&p.Props)
	}
	for _, f := range p.Filters {
		n += 2 + len(f)
	}
	dst = AppendFixedHeader(dst, UNSUBSCRIBE, 0b0010, n)
	dst = appendUint16(dst, p.PacketID)
	if version >= Version5 {
		dst = AppendProperties(dst, &p.Props)
	}
	for _, f := range p.Filters {
		dst = AppendString(dst, f)
	}
	return dst
}

// Unsuback is an UNSUBACK packet (3.1.1 §3.11, 5.0 §3.11). MQTT 3 UNSUBACKs
// carry only the packet identifier.
type Unsuback struct {
	PacketID    uint16
	Props       Properties   // v5 only
	ReasonCodes []ReasonCode // v5 only; decode appends, reusing capacity
}

// Decode decodes an UNSUBACK body for protocol version (a client's side).
func (p *Unsuback) Decode(body []byte, version byte) error {
	p.Props.Reset()
	p.ReasonCodes = p.ReasonCodes[:0]
	i, err := decodeAckHead(body, UNSUBACK, version, &p.PacketID, &p.Props)
	if err != nil {
		return err
	}
	if version < Version5 {
		if i != len(body) {
			return errV3AckLen
		}
		return nil
	}
	if i == len(body) {
		return errNoReasonCodes // one code per filter, and there is at least one filter
	}
	for _, c := range body[i:] {
		r := ReasonCode(c)
		if !unsubackReasons.has(r) {
			return errBadReasonCode // [MQTT-3.11.3-1] (5.0)
		}
		p.ReasonCodes = append(p.ReasonCodes, r)
	}
	return nil
}

// AppendUnsuback appends the UNSUBACK packet p for protocol version; MQTT 3
// writes only the packet identifier.
func AppendUnsuback(dst []byte, p *Unsuback, version byte) []byte {
	if version < Version5 {
		return appendUint16(append(dst, byte(UNSUBACK)<<4, 2), p.PacketID)
	}
	dst = AppendFixedHeader(dst, UNSUBACK, 0, 2+propsLen(&p.Props)+len(p.ReasonCodes))
	dst = appendUint16(dst, p.PacketID)
	dst = AppendProperties(dst, &p.Props)
	for _, r := range p.ReasonCodes {
		dst = append(dst, byte(r))
	}
	return dst
}
