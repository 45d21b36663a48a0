package server

import (
	"net"

	"github.com/cp7/cp7/codec"
)

// ConnInfo describes a connecting client to an Authenticator. Its byte
// slices are borrowed: valid only during the call.
type ConnInfo struct {
	ClientID   string
	Username   []byte
	Password   []byte
	Remote     net.Addr
	Version    byte
	CommonName string // verified TLS client certificate CN, if any
	// Rules may be set by Authenticate to confine this client's topics
	// beyond the ACL file (see ClientRules).
	Rules *ClientRules
}

// Authenticator decides whether a CONNECT is accepted. It runs on the event
// loop that owns the connection, so it must not block; an implementation that
// needs I/O keeps a cache and refreshes it elsewhere.
type Authenticator interface {
	// Authenticate returns codec.Success or the reason to refuse
	// (BadUserNameOrPassword, NotAuthorized, Banned, ...).
	Authenticate(info *ConnInfo) codec.ReasonCode
}

// ClientRules are topic rules that an authentication method attaches to one
// client at CONNECT (for example from a JWT's claims). The ACL applies them
// to that client's publishes and subscriptions; nil means none were given.
// They confine the client further than Config.ACL (both must allow): a nil
// list leaves that action to Config.ACL alone, an empty one allows nothing.
// %u and %c in a filter stand for the client's user name and client id, as
// in the ACL file (server/authorize.go applies them).
type ClientRules struct {
	Publish   []string // topic filters the client may publish to
	Subscribe []string // topic filters the client may subscribe to
}
