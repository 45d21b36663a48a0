// Package auth combines CP7's authentication methods (password file, JWT,
// HTTP hook, client certificates, anonymous access) into one
// server.Authenticator, with a cache of verified credentials so that a
// reconnect storm costs one slow check per user, not one per connect.
//
// Methods are asked in order; the first that knows the user decides
// (Allow or Deny); one that does not know the user says Unknown and the
// next is asked. A client that sends neither user name nor password is
// anonymous: it is let in only when AllowAnonymous is set.
package auth

import (
	"sync"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
)

// Decision is one method's answer.
type Decision uint8

const (
	Unknown Decision = iota // the method does not know this user: ask the next
	Allow
	Deny
)

// Result is what a method decided.
type Result struct {
	Decision Decision
	// Reason refuses a Deny (0 means BadUserNameOrPassword).
	Reason codec.ReasonCode
	// User and Rules are set on the connection on Allow (see
	// server.ConnInfo).
	User  string
	Rules *server.ClientRules
	// CacheFor lets the chain remember an Allow for this long (capped by
	// the chain's TTL); 0 means do not cache (the method caches itself, or
	// its answer depends on more than user name and password).
	CacheFor time.Duration
}

// Method is one way to authenticate. Check may block (hashing, I/O): the
// server calls it on its auth workers, from several goroutines at once.
type Method interface {
	Name() string
	Check(info *server.ConnInfo) Result
}

// Chain is the server.Authenticator (and QuickAuthenticator) made of
// Methods. Its fields are set before the server starts.
type Chain struct {
	Methods []Method
	// AllowAnonymous lets in clients with neither user name nor password.
	AllowAnonymous bool
	// CertUsers lets in a client whose user name is its verified TLS
	// certificate's CN (-tls-cn-username): the certificate authenticated it.
	CertUsers bool
	// Cache remembers verified credentials; nil caches nothing.
	Cache *Cache

	mu       sync.Mutex
	inflight map[Key]*call // concurrent checks of the same credentials share one
}

type call struct {
	done chan struct{}
	res  Result
}

// anonymous reports whether the client sent no credentials.
func anonymous(info *server.ConnInfo) bool { return len(info.Username) == 0 && len(info.Password) == 0 }

// Quick implements server.QuickAuthenticator: it decides on the event loop
// what needs no slow work (anonymous clients, certificate users, cached
// credentials).
func (ch *Chain) Quick(info *server.ConnInfo) (codec.ReasonCode, bool) {
	if ch.CertUsers && info.CommonName != "" && string(info.Username) == info.CommonName {
		return codec.Success, true
	}
	if anonymous(info) {
		return ch.anonymousRC(), true
	}
	if len(ch.Methods) == 0 {
		return codec.BadUserNameOrPassword, true
	}
	if ch.Cache != nil {
		if e, ok := ch.Cache.Get(ch.Cache.Key(info.Username, info.Password)); ok {
			info.User, info.Rules = e.User, e.Rules
			return codec.Success, true
		}
	}
	return 0, false
}

func (ch *Chain) anonymousRC() codec.ReasonCode {
	if ch.AllowAnonymous {
		return codec.Success
	}
	return codec.NotAuthorized
}

// Authenticate implements server.Authenticator: the methods in order.
// Checks of the same credentials that run at once share one check.
func (ch *Chain) Authenticate(info *server.ConnInfo) codec.ReasonCode {
	if rc, ok := ch.Quick(info); ok {
		return rc
	}
	if ch.Cache == nil {
		return ch.apply(info, ch.check(info))
	}
	k := ch.Cache.Key(info.Username, info.Password)
	ch.mu.Lock()
	if e, ok := ch.Cache.Get(k); ok {
		// A check of these credentials ended since Quick looked (its Put
		// comes before it leaves inflight).
		ch.mu.Unlock()
		info.User, info.Rules = e.User, e.Rules
		return codec.Success
	}
	if c := ch.inflight[k]; c != nil {
		ch.mu.Unlock()
		<-c.done
		return ch.apply(info, c.res)
	}
	if ch.inflight == nil {
		ch.inflight = make(map[Key]*call)
	}
	c := &call{done: make(chan struct{})}
	ch.inflight[k] = c
	ch.mu.Unlock()
	c.res = ch.check(info)
	if c.res.Decision == Allow && c.res.CacheFor > 0 {
		ch.Cache.Put(k, Entry{User: c.res.User, Rules: c.res.Rules}, c.res.CacheFor)
	}
	ch.mu.Lock()
	delete(ch.inflight, k)
	ch.mu.Unlock()
	close(c.done)
	return ch.apply(info, c.res)
}

func (ch *Chain) check(info *server.ConnInfo) Result {
	for _, m := range ch.Methods {
		if r := m.Check(info); r.Decision != Unknown {
			return r
		}
	}
	return Result{Decision: Deny}
}

func (ch *Chain) apply(info *server.ConnInfo, r Result) codec.ReasonCode {
	switch r.Decision {
	case Allow:
		info.User, info.Rules = r.User, r.Rules
		return codec.Success
	case Deny:
		if r.Reason != 0 {
			return r.Reason
		}
	}
	return codec.BadUserNameOrPassword
}

// Invalidate forgets every cached credential (after a reload).
func (ch *Chain) Invalidate() {
	if ch.Cache != nil {
		ch.Cache.Clear()
	}
}
