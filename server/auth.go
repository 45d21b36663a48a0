package server

import (
	"net"

	"github.com/cp7/cp7/codec"
)

// ConnInfo describes a connecting client to an Authenticator.
//
// Lifetime: in Authenticate (run on an auth worker) the slices are the
// worker's own copies, valid until Authenticate returns; in Quick (run on
// the event loop) they borrow the loop's read buffer and are valid only
// during the call. Copy what you keep.
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
	// User may be set by Authenticate to the user name the credentials
	// proved (a JWT's username claim); it then replaces Username as the
	// client's user name (ACL %u, logs). Empty keeps Username.
	User string
}

// Authenticator decides whether a CONNECT is accepted. Authenticate may be
// slow (password hashing, JWT signatures, HTTP calls): the server never
// calls it on an event loop but on its bounded pool of auth workers
// (Config.AuthWorkers), from several goroutines at once, while the
// connection's later packets wait (server/authcheck.go).
type Authenticator interface {
	// Authenticate returns codec.Success or the reason to refuse
	// (BadUserNameOrPassword, NotAuthorized, Banned, ...).
	Authenticate(info *ConnInfo) codec.ReasonCode
}

// QuickAuthenticator is implemented by an Authenticator that can often
// decide at once, without blocking (a cached verification, anonymous
// access): the server asks Quick first, on the event loop, and sends the
// CONNECT to a worker only when Quick returns ok false. Quick must not block
// and must not keep info's slices.
type QuickAuthenticator interface {
	Quick(info *ConnInfo) (rc codec.ReasonCode, ok bool)
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
