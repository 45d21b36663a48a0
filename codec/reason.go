package codec

// ReasonCode is an MQTT 5 reason code (§2.4, table 2-6). For MQTT 3 packets
// that carry a return code (CONNACK, SUBACK) the same type holds the 3.x
// byte value.
type ReasonCode byte

// MQTT 5 reason codes, named as in the specification's table 2-6. Several
// names share a value; the meaning depends on the packet.
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWillMessage           ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

// String returns the specification's name of the code; codes whose value is
// shared (0x00, 0x01, 0x02) return the generic name ("Success",
// "GrantedQoS1", "GrantedQoS2").
func (r ReasonCode) String() string {
	switch r {
	case Success:
		return "Success"
	case GrantedQoS1:
		return "GrantedQoS1"
	case GrantedQoS2:
		return "GrantedQoS2"
	case DisconnectWithWillMessage:
		return "DisconnectWithWillMessage"
	case NoMatchingSubscribers:
		return "NoMatchingSubscribers"
	case NoSubscriptionExisted:
		return "NoSubscriptionExisted"
	case ContinueAuthentication:
		return "ContinueAuthentication"
	case ReAuthenticate:
		return "ReAuthenticate"
	case UnspecifiedError:
		return "UnspecifiedError"
	case MalformedPacket:
		return "MalformedPacket"
	case ProtocolError:
		return "ProtocolError"
	case ImplementationSpecificError:
		return "ImplementationSpecificError"
	case UnsupportedProtocolVersion:
		return "UnsupportedProtocolVersion"
	case ClientIdentifierNotValid:
		return "ClientIdentifierNotValid"
	case BadUserNameOrPassword:
		return "BadUserNameOrPassword"
	case NotAuthorized:
		return "NotAuthorized"
	case ServerUnavailable:
		return "ServerUnavailable"
	case ServerBusy:
		return "ServerBusy"
	case Banned:
		return "Banned"
	case ServerShuttingDown:
		return "ServerShuttingDown"
	case BadAuthenticationMethod:
		return "BadAuthenticationMethod"
	case KeepAliveTimeout:
		return "KeepAliveTimeout"
	case SessionTakenOver:
		return "SessionTakenOver"
	case TopicFilterInvalid:
		return "TopicFilterInvalid"
	case TopicNameInvalid:
		return "TopicNameInvalid"
	case PacketIdentifierInUse:
		return "PacketIdentifierInUse"
	case PacketIdentifierNotFound:
		return "PacketIdentifierNotFound"
	case ReceiveMaximumExceeded:
		return "ReceiveMaximumExceeded"
	case TopicAliasInvalid:
		return "TopicAliasInvalid"
	case PacketTooLarge:
		return "PacketTooLarge"
	case MessageRateTooHigh:
		return "MessageRateTooHigh"
	case QuotaExceeded:
		return "QuotaExceeded"
	case AdministrativeAction:
		return "AdministrativeAction"
	case PayloadFormatInvalid:
		return "PayloadFormatInvalid"
	case RetainNotSupported:
		return "RetainNotSupported"
	case QoSNotSupported:
		return "QoSNotSupported"
	case UseAnotherServer:
		return "UseAnotherServer"
	case ServerMoved:
		return "ServerMoved"
	case SharedSubscriptionsNotSupported:
		return "SharedSubscriptionsNotSupported"
	case ConnectionRateExceeded:
		return "ConnectionRateExceeded"
	case MaximumConnectTime:
		return "MaximumConnectTime"
	case SubscriptionIdentifiersNotSupported:
		return "SubscriptionIdentifiersNotSupported"
	case WildcardSubscriptionsNotSupported:
		return "WildcardSubscriptionsNotSupported"
	}
	return "ReasonCode(0x" + string(hexDigit(byte(r)>>4)) + string(hexDigit(byte(r)&0xF)) + ")"
}

func hexDigit(b byte) byte { return "0123456789ABCDEF"[b] }

// IsError reports whether r is a failure code (0x80 or above) [§2.4].
func (r ReasonCode) IsError() bool { return r >= 0x80 }

// MQTT 3.1 and 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3).
const (
	ConnAccepted                   byte = 0
	ConnRefusedProtocolVersion     byte = 1
	ConnRefusedIdentifierRejected  byte = 2
	ConnRefusedServerUnavailable   byte = 3
	ConnRefusedBadUsernamePassword byte = 4
	ConnRefusedNotAuthorized       byte = 5
)

// V3ConnackCode maps an MQTT 5 CONNACK reason code to the nearest 3.1.1
// return code: success stays 0, 0x84->1, 0x85->2, 0x88/0x89->3, 0x86->4,
// 0x87->5, and every other failure ->3 (server unavailable).
func V3ConnackCode(r ReasonCode) byte {
	switch r {
	case Success:
		return ConnAccepted
	case UnsupportedProtocolVersion:
		return ConnRefusedProtocolVersion
	case ClientIdentifierNotValid:
		return ConnRefusedIdentifierRejected
	case ServerUnavailable, ServerBusy:
		return ConnRefusedServerUnavailable
	case BadUserNameOrPassword:
		return ConnRefusedBadUsernamePassword
	case NotAuthorized:
		return ConnRefusedNotAuthorized
	}
	return ConnRefusedServerUnavailable
}

// reasonSet is a 256-bit set of reason codes allowed in one packet type.
type reasonSet [4]uint64

func (s *reasonSet) has(r ReasonCode) bool { return s[r>>6]&(1<<(r&63)) != 0 }

func makeReasonSet(codes ...ReasonCode) (s reasonSet) {
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

// Reason codes each MQTT 5 packet may carry (the "Reason Codes" tables of
// §3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1,
// 3.15.2.1). A receiver treats any other value as a protocol error.
var (
	connackReasons = makeReasonSet(Success, UnspecifiedError, MalformedPacket, ProtocolError,
		ImplementationSpecificError, UnsupportedProtocolVersion, ClientIdentifierNotValid,
		BadUserNameOrPassword, NotAuthorized, ServerUnavailable, ServerBusy, Banned,
		BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge, QuotaExceeded,
		PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer,
		ServerMoved, ConnectionRateExceeded)
	pubackReasons = makeReasonSet(Success, NoMatchingSubscribers, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicNameInvalid, PacketIdentifierInUse,
		QuotaExceeded, PayloadFormatInvalid) // PUBACK and PUBREC
	pubrelReasons = makeReasonSet(Success, PacketIdentifierNotFound) // PUBREL and PUBCOMP
	subackReasons = makeReasonSet(GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
		QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported)
	unsubackReasons = makeReasonSet(Success, NoSubscriptionExisted, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse)
	disconnectReasons = makeReasonSet(NormalDisconnection, DisconnectWithWillMessage,
		UnspecifiedError, MalformedPacket, ProtocolError, ImplementationSpecificError,
		NotAuthorized, ServerBusy, ServerShuttingDown, KeepAliveTimeout, SessionTakenOver,
		TopicFilterInvalid, TopicNameInvalid, ReceiveMaximumExceeded, TopicAliasInvalid,
		PacketTooLarge, MessageRateTooHigh, QuotaExceeded, AdministrativeAction,
		PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer,
		ServerMoved, SharedSubscriptionsNotSupported, ConnectionRateExceeded,
		MaximumConnectTime, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported)
	authReasons = makeReasonSet(Success, ContinueAuthentication, ReAuthenticate)
)
