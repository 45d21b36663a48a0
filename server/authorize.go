package server

import "net"

// Authorizer decides which topics clients may publish to, subscribe to and
// receive (Config.ACL; server/acl implements it over a rule file). The
// broker asks it once per client for that client's compiled view, at the
// client's first publish, subscribe, delivery or will, and asks the view per
// topic. Its methods run on event loops and must not block. A nil
// Config.ACL costs the publish path one boolean test.
//
// Several authorizers (a rule file, an HTTP hook's cached decisions) are
// combined with AllOf: each must allow.
type Authorizer interface {
	// Generation changes whenever the rules change (a reload); the broker
	// then asks ForClient again before the client's next check.
	Generation() uint64
	// ForClient returns the client's view of the rules, or nil when the
	// client may do everything.
	ForClient(id *ClientIdentity) TopicAuthorizer
}

// ClientIdentity is what rules may select a client by. Valid during
// ForClient; the strings may be kept.
type ClientIdentity struct {
	ClientID string
	Username string   // "" for a client without one
	Remote   net.Addr // the PROXY header's source where one was trusted
}

// TopicAuthorizer is one client's view of the rules. Its methods run on the
// client's event loop only; topic and filter are borrowed for the call.
type TopicAuthorizer interface {
	// CanPublish: may the client publish to topic (or leave a will on it)?
	CanPublish(topic []byte) bool
	// CanSubscribe: may the client subscribe to filter? Shared
	// subscriptions ($share/group/f, $queue/f) arrive whole.
	CanSubscribe(filter []byte) bool
	// CanReceive: may a message on topic be delivered to the client? Asked
	// for every delivery, so that a wildcard subscription never carries a
	// topic the client may not read, and for retained messages.
	CanReceive(topic []byte) bool
}

// AllOf combines authorizers: a client may do what every one of them
// allows. Nil entries are skipped. This is where an HTTP hook's authorizer
// joins the ACL file.
func AllOf(as ...Authorizer) Authorizer {
	var list allOf
	for _, a := range as {
		if a != nil {
			list = append(list, a)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

// Actions named to a TopicFunc.
const (
	ActionPublish   = "publish"
	ActionSubscribe = "subscribe"
	ActionReceive   = "receive"
)

// TopicFunc answers one question about one client: may it do action
// (ActionPublish, ActionSubscribe, ActionReceive) on topic (a filter for
// subscribe)? It runs on the client's event loop and must not block (an
// HTTP hook answers from its decision cache and applies its fail policy on a
// miss). topic is borrowed for the call.
type TopicFunc func(id *ClientIdentity, action string, topic []byte) bool

// FuncAuthorizer makes an Authorizer of per-question checks, such as an
// HTTP hook's: every check of every client calls f with the client's
// identity. Its generation never changes: f answers from its own state.
func FuncAuthorizer(f TopicFunc) Authorizer { return funcAuthorizer{f} }

type funcAuthorizer struct{ f TopicFunc }

func (funcAuthorizer) Generation() uint64 { return 0 }

func (a funcAuthorizer) ForClient(id *ClientIdentity) TopicAuthorizer {
	return &funcView{f: a.f, id: *id}
}

type funcView struct {
	f  TopicFunc
	id ClientIdentity
}

func (v *funcView) CanPublish(t []byte) bool   { return v.f(&v.id, ActionPublish, t) }
func (v *funcView) CanSubscribe(f []byte) bool { return v.f(&v.id, ActionSubscribe, f) }
func (v *funcView) CanReceive(t []byte) bool   { return v.f(&v.id, ActionReceive, t) }

type allOf []Authorizer

func (a allOf) Generation() uint64 {
	var g uint64
	for _, x := range a {
		g += x.Generation() // each only grows, so the sum changes when any does
	}
	return g
}

func (a allOf) ForClient(id *ClientIdentity) TopicAuthorizer {
	var views allViews
	for _, x := range a {
		if v := x.ForClient(id); v != nil {
			views = append(views, v)
		}
	}
	return views.single()
}

type allViews []TopicAuthorizer

func (vs allViews) single() TopicAuthorizer {
	switch len(vs) {
	case 0:
		return nil
	case 1:
		return vs[0]
	}
	return vs
}

func (vs allViews) CanPublish(t []byte) bool {
	for _, v := range vs {
		if !v.CanPublish(t) {
			return false
		}
	}
	return true
}

func (vs allViews) CanSubscribe(f []byte) bool {
	for _, v := range vs {
		if !v.CanSubscribe(f) {
			return false
		}
	}
	return true
}

func (vs allViews) CanReceive(t []byte) bool {
	for _, v := range vs {
		if !v.CanReceive(t) {
			return false
		}
	}
	return true
}

// clientACL is a client's topic rules: those its authentication attached,
// and its cached view, rebuilt when Config.ACL's generation moves on.
// Behind one pointer in clientExtra (which stays in the 112-byte size
// class, see TestIdleStructSizes), allocated at the client's first check or
// when rules are attached, so idle connections carry none.
type clientACL struct {
	rules *ClientRules // from authentication (JWT claims); nil: none
	gen   uint64
	built bool
	view  TopicAuthorizer // nil: everything allowed
}

// setRules keeps the topic rules an authentication method attached to c
// (ConnInfo.Rules); nil does nothing. Owner only.
func (c *client) setRules(r *ClientRules) {
	if r == nil {
		return
	}
	x := c.ext()
	if x.acl == nil {
		x.acl = &clientACL{}
	}
	x.acl.rules, x.acl.built = r, false
}

// topicRules returns c's view of the topic rules (Config.ACL and the rules
// its authentication attached), or nil if c may do everything. Owner only;
// called only when srv.checkTopics.
func (l *loop) topicRules(c *client) TopicAuthorizer {
	a := l.srv.cfg.ACL
	var ca *clientACL
	if c.x != nil {
		ca = c.x.acl
	}
	if a == nil && (ca == nil || ca.rules == nil) {
		return nil
	}
	var gen uint64
	if a != nil {
		gen = a.Generation()
	}
	if ca != nil && ca.built && ca.gen == gen {
		return ca.view
	}
	return l.bindTopicRules(c, a, gen)
}

// bindTopicRules compiles and caches c's view. It needs c's session (the
// client id), so it is only reached once CONNECT is accepted.
func (l *loop) bindTopicRules(c *client, a Authorizer, gen uint64) TopicAuthorizer {
	x := c.ext()
	if x.acl == nil {
		x.acl = &clientACL{}
	}
	ca := x.acl
	id := ClientIdentity{ClientID: c.clientID(), Username: c.username(), Remote: c.remoteAddr()}
	var views allViews
	if a != nil {
		if v := a.ForClient(&id); v != nil {
			views = append(views, v)
		}
	}
	if ca.rules != nil {
		views = append(views, newRulesView(ca.rules, &id))
	}
	ca.gen, ca.built, ca.view = gen, true, views.single()
	return ca.view
}

// mayPublish, maySubscribe and mayReceive ask c's rules. Owner only.
func (l *loop) mayPublish(c *client, topic []byte) bool {
	v := l.topicRules(c)
	return v == nil || v.CanPublish(topic)
}

func (l *loop) maySubscribe(c *client, filter []byte) bool {
	v := l.topicRules(c)
	return v == nil || v.CanSubscribe(filter)
}

func (l *loop) mayReceive(c *client, topic []byte) bool {
	v := l.topicRules(c)
	return v == nil || v.CanReceive(topic)
}
