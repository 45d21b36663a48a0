package codec

import "errors"

// Error is a decode error. Code is the reason code the server should send
// back (in a v5 CONNACK or DISCONNECT) before closing the connection; for
// MQTT 3.1 and 3.1.1 the server just closes, except for
// UnsupportedProtocolVersion, which gets CONNACK return code 0x01.
//
// Every *Error returned by this package is a preallocated package variable,
// so returning one never allocates. Compare with errors.As and read Code;
// do not modify the value.
type Error struct {
	Code ReasonCode
	Msg  string
}

// Error implements error.
func (e *Error) Error() string { return "codec: " + e.Msg }

// ErrIncomplete is returned by ParseFixedHeader and ReadVarInt when the input
// ends before the fixed header (or variable byte integer) does: read more
// bytes and call again. It is not a protocol violation.
var ErrIncomplete = errors.New("codec: incomplete fixed header; read more bytes and retry")

func malformed(msg string) *Error { return &Error{Code: MalformedPacket, Msg: msg} }
func protocol(msg string) *Error  { return &Error{Code: ProtocolError, Msg: msg} }

// Preallocated errors. Messages say what was wrong; the remedy for a peer
// that sends them is always to close its connection with the code.
var (
	// Fixed header and primitive types.
	errVarIntTooLong = malformed("malformed variable byte integer: more than 4 bytes; close the connection")
	errVarIntNotMin  = malformed("malformed variable byte integer: not encoded in the minimum number of bytes; close the connection")
	errTypeReserved  = malformed("malformed fixed header: packet type 0 is reserved; close the connection")
	errFlags         = malformed("malformed fixed header: flags are wrong for the packet type; close the connection")
	errPublishQoS3   = malformed("malformed PUBLISH: QoS bits are 3; close the connection")
	errShort         = malformed("malformed packet: shorter than its fields say; close the connection")
	errTrailing      = malformed("malformed packet: bytes left after the last field; close the connection")
	errUTF8          = malformed("malformed packet: string is not valid MQTT UTF-8 (ill-formed or contains U+0000); close the connection")
	errNotEmpty      = malformed("malformed packet: remaining length must be 0 for this packet type; close the connection")
	errPacketIDZero  = protocol("packet identifier 0 is not allowed; close the connection")
	errBadReasonCode = protocol("reason code not allowed for this packet type; close the connection")
	errV3AckLen      = malformed("malformed acknowledgement: MQTT 3 acknowledgements have remaining length 2; close the connection")
	errAuthNoProps   = malformed("malformed AUTH: a reason code without a property length; close the connection")
	errConnackFlags  = malformed("malformed CONNACK: reserved acknowledge flag bits set; close the connection")
	errConnackV3Code = protocol("CONNACK return code above 5 is reserved; close the connection")
	errSubackV3Code  = protocol("SUBACK return code other than 0, 1, 2 or 0x80; close the connection")
	errNoReasonCodes = protocol("acknowledgement without reason codes; close the connection")

	// Properties.
	errPropUnknown    = malformed("malformed properties: unknown property identifier; close the connection")
	errPropNotAllowed = protocol("property not allowed in this packet type; close the connection")
	errPropDuplicate  = protocol("property appears more than once; close the connection")
	errPropBool       = protocol("property value must be 0 or 1; close the connection")
	errPropZero       = protocol("property value 0 is not allowed (Receive Maximum, Maximum Packet Size, Subscription Identifier or Topic Alias); close the connection")
	errTopicAliasZero = &Error{Code: TopicAliasInvalid, Msg: "Topic Alias 0 is not allowed [MQTT-3.3.2-8]; close the connection"}
	errPropLen        = malformed("malformed properties: property length runs past the packet; close the connection")

	// CONNECT.
	errProtocolName     = protocol("CONNECT protocol name is neither MQTT nor MQIsdp; close without CONNACK")
	errProtocolVersion  = &Error{Code: UnsupportedProtocolVersion, Msg: "CONNECT protocol level not supported; answer CONNACK 0x01 (v3) or 0x84 (v5) and close"}
	errConnectReserved  = malformed("malformed CONNECT: reserved flag bit 0 is set; close the connection")
	errWillQoS3         = malformed("malformed CONNECT: will QoS is 3; close the connection")
	errWillQoSNoFlag    = malformed("malformed CONNECT: will QoS set without the will flag; close the connection")
	errWillRetainNoFlag = malformed("malformed CONNECT: will retain set without the will flag; close the connection")
	errPasswordNoUser   = malformed("malformed CONNECT: password flag set without the user name flag (MQTT 3.1.1); close the connection")

	// PUBLISH.
	errPublishDupQoS0 = malformed("malformed PUBLISH: DUP set on a QoS 0 message; close the connection")
	errTopicWildcard  = &Error{Code: TopicNameInvalid, Msg: "PUBLISH topic name contains a wildcard (+ or #); close the connection"}
	errTopicEmpty     = protocol("PUBLISH topic name is empty and no topic alias is given; close the connection")

	// SUBSCRIBE, UNSUBSCRIBE.
	errNoFilters       = protocol("SUBSCRIBE or UNSUBSCRIBE without any topic filter; close the connection")
	errSubReserved     = malformed("malformed SUBSCRIBE: reserved subscription option bits set; close the connection")
	errSubQoS3         = malformed("malformed SUBSCRIBE: requested QoS is 3; close the connection")
	errRetainHandling3 = protocol("SUBSCRIBE retain handling is 3; close the connection")
)
