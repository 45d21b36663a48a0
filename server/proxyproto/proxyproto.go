// Package proxyproto parses the PROXY protocol header (versions 1 and 2) that a
// load balancer such as HAProxy, AWS NLB or nginx puts in front of a TCP stream
// to tell the server the client's real address.
//
// Reference: HAProxy doc/proxy-protocol.txt ("The PROXY protocol, Versions 1 & 2").
// Section numbers in comments below refer to that document.
//
// Two entry points:
//   - Parse works on a byte slice without blocking and without allocating (beyond the
//     returned addresses), so an event loop can call it each time more bytes arrive.
//   - WrapConn reads the header from a blocking net.Conn (TLS and WebSocket listeners).
//
// Security (§5): a PROXY header is accepted only from peers listed in a Trusted set;
// an untrusted peer that sends one is refused, so clients cannot spoof addresses.
package proxyproto

import (
	"errors"
	"net"
)

// Commands carried by a header.
const (
	// CmdLocal: the proxy opened the connection itself (a health check); the
	// connection's own endpoints apply (§2.2).
	CmdLocal byte = 0
	// CmdProxy: the connection is relayed on behalf of Source (§2.2). Version 1
	// headers always carry this command.
	CmdProxy byte = 1
)

// Sizes from the specification.
const (
	// MaxV1Len is the longest version 1 line, CRLF included (§2.1).
	MaxV1Len = 107
	// MaxV2Len is the longest version 2 header: 16 fixed bytes and a 16-bit length.
	MaxV2Len = v2FixedLen + 0xFFFF
	// MaxLen is the most bytes a reader must buffer to decide on any header.
	MaxLen = MaxV2Len
)

// Sentinel results of Parse.
var (
	// ErrIncomplete: the bytes seen so far are a prefix of a valid header; call
	// Parse again with more bytes.
	ErrIncomplete = errors.New("proxyproto: incomplete PROXY header, read more bytes and parse again")
	// ErrNotProxy: the bytes do not start a PROXY header at all (for example an
	// MQTT CONNECT, a TLS ClientHello or an HTTP request).
	ErrNotProxy = errors.New("proxyproto: the stream does not start with a PROXY protocol header")
)

// Header is a parsed PROXY header.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version byte
	// Command is CmdLocal or CmdProxy (version 1 is always CmdProxy).
	Command byte
	// Source and Dest are *net.TCPAddr for TCP over IPv4 or IPv6 relayed with
	// CmdProxy. They are nil for CmdLocal, for version 1 "UNKNOWN" and for
	// version 2 families or transports other than TCP over IPv4/IPv6: the
	// connection's own addresses apply then (§2.1, §2.2).
	Source, Dest net.Addr
}

// Parse parses a PROXY header at the start of b. It never blocks and never
// retains b.
//
// It returns the header and the number of bytes it occupies, so b[n:] is the
// first byte of the proxied stream. Otherwise it returns ErrIncomplete when b
// is a prefix of a valid header (call again with more bytes), ErrNotProxy when
// b cannot start a header, or an error whose text says what is malformed; the
// connection must then be closed (§2.1: "Any sequence which does not exactly
// match the protocol must be discarded and cause the receiver to abort the
// connection").
//
// Parse allocates only the returned addresses (one allocation holds both), and
// nothing at all when it returns an error.
func Parse(b []byte) (Header, int, error) {
	if len(b) == 0 {
		return Header{}, 0, ErrIncomplete
	}
	switch b[0] {
	case 'P':
		return parseV1(b)
	case '\r':
		return parseV2(b)
	}
	return Header{}, 0, ErrNotProxy
}

// addrPair holds both addresses and their IP bytes in one allocation.
type addrPair struct {
	src, dst net.TCPAddr
	ip       [32]byte
}
