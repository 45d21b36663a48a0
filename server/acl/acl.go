package acl

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server"
)

// Rules is a compiled rule file. It is immutable once parsed, except for
// its cache of compiled views, which is safe for concurrent use.
type Rules struct {
	name   string
	format Format
	rules  []*rule
	allow  []bool // allow[pos]: what the rule at pos decides
	// Index: a client's own rules are those of its user name, its client
	// id, the anonymous ones when it has no user name, and the conditional
	// ones (CIDR, prefixes) checked one by one at its first check. A file
	// of per-user rules therefore costs each client only its own lines,
	// whatever the file's size. The rules for everybody (`always`) are
	// compiled once and shared by every client.
	byUser   map[string][]int32
	byClient map[string][]int32
	anon     []int32
	always   []int32
	cond     []int32
	patterns bool // Mosquitto pattern lines exist
	// subscribeAlways: SUBSCRIBE is not checked (Mosquitto's acl_file).
	subscribeAlways bool

	// Warnings are remarks about the file that do not stop it loading.
	Warnings []string

	alwaysView *view // the rules for everybody; nil when there are none
	mu         sync.Mutex
	views      map[string]*view // clients' own rules, by the positions selected
}

// maxViews bounds the cache of compiled views (one per distinct selection,
// typically one per user); past it views are compiled per client.
const maxViews = 1 << 16

// Len is the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// Format is the format the file was read in.
func (r *Rules) Format() Format { return r.format }

func (r *Rules) index(rules []*rule) {
	r.rules = rules
	r.allow = make([]bool, len(rules))
	r.byUser = map[string][]int32{}
	r.byClient = map[string][]int32{}
	r.views = map[string]*view{}
	for i, x := range rules {
		pos := int32(i)
		r.allow[i] = x.allow
		switch {
		case x.pattern:
			r.patterns = true
			r.always = append(r.always, pos)
		case x.hasUser && !x.userPrefix:
			r.byUser[x.user] = append(r.byUser[x.user], pos)
		case x.hasClient && !x.clientPrefix:
			r.byClient[x.client] = append(r.byClient[x.client], pos)
		case x.anonymous && !x.hasClient && !x.hasAddr:
			r.anon = append(r.anon, pos)
		case !x.hasUser && !x.hasClient && !x.hasAddr && !x.anonymous:
			r.always = append(r.always, pos)
		default:
			r.cond = append(r.cond, pos)
		}
	}
	if len(r.always) > 0 {
		r.alwaysView = build(rules, r.always)
	}
}

// selection returns the positions of the client's own rules (not those
// for everybody), in order; nil when there are none.
func (r *Rules) selection(user, client string, addr netip.Addr) []int32 {
	var sel []int32
	add := func(ps []int32) {
		for _, p := range ps {
			if r.rules[p].selects(user, client, addr) {
				sel = append(sel, p)
			}
		}
	}
	if user != "" {
		add(r.byUser[user])
	} else {
		add(r.anon)
	}
	add(r.byClient[client])
	add(r.cond)
	slices.Sort(sel)
	return sel
}

// viewFor returns the compiled view of a selection, shared with every
// client that selects the same rules.
func (r *Rules) viewFor(sel []int32) *view {
	if len(sel) == 0 {
		return nil
	}
	key := make([]byte, 4*len(sel))
	for i, p := range sel {
		binary.LittleEndian.PutUint32(key[4*i:], uint32(p))
	}
	r.mu.Lock()
	v := r.views[string(key)]
	r.mu.Unlock()
	if v != nil {
		return v
	}
	v = build(r.rules, sel)
	r.mu.Lock()
	if len(r.views) < maxViews {
		r.views[string(key)] = v
	}
	r.mu.Unlock()
	return v
}

// ACL is a server.Authorizer over a rule file that can be replaced while
// the broker runs (Swap); clients pick up new rules at their next check.
type ACL struct {
	cur atomic.Pointer[state]
	gen atomic.Uint64
}

type state struct {
	rules        *Rules
	defaultAllow bool
	gen          uint64
}

// New makes an ACL of rules; defaultAllow decides what no rule matches.
func New(rules *Rules, defaultAllow bool) *ACL {
	a := &ACL{}
	a.Swap(rules, defaultAllow)
	return a
}

// Swap replaces the rules atomically. Connections stay; each client's
// cached view is rebuilt at its next check (the generation changed).
func (a *ACL) Swap(rules *Rules, defaultAllow bool) {
	a.cur.Store(&state{rules: rules, defaultAllow: defaultAllow, gen: a.gen.Add(1)})
}

// Rules returns the rules in force.
func (a *ACL) Rules() *Rules { return a.cur.Load().rules }

// Generation changes with every Swap (server.Authorizer).
func (a *ACL) Generation() uint64 { return a.cur.Load().gen }

// ForClient returns the client's view of the rules (server.Authorizer).
// It runs on the client's event loop at its first check and after a Swap.
// The compiled tries are shared: the rules for everybody by every client,
// a client's own rules by every client that selects the same ones (%u and
// %c are resolved while matching, not compiled in). The view itself is one
// small allocation per client.
func (a *ACL) ForClient(id *server.ClientIdentity) server.TopicAuthorizer {
	st := a.cur.Load()
	r := st.rules
	own := r.viewFor(r.selection(id.Username, id.ClientID, addrOf(id.Remote)))
	shared := r.alwaysView
	defaultAllow := st.defaultAllow
	if r.patterns && (strings.ContainsAny(id.Username, "+#") || strings.ContainsAny(id.ClientID, "+#")) {
		// Mosquitto refuses a client whose identity could widen a
		// pattern: no patterns, and what its own lines do not allow is
		// denied.
		shared, defaultAllow = nil, false
	}
	if own == nil && shared == nil && defaultAllow {
		return nil // nothing applies and everything is allowed: no checks
	}
	return &clientView{own: own, shared: shared, allow: r.allow, w: who{user: id.Username, client: id.ClientID},
		defaultAllow: defaultAllow, subscribeAlways: r.subscribeAlways}
}

func addrOf(a net.Addr) netip.Addr {
	switch t := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// clientView is one client's compiled rules (server.TopicAuthorizer): its
// own rules, the rules for everybody, and the identity %u and %c resolve
// to. Owned by the client's event loop; the tries are read-only.
type clientView struct {
	own, shared     *view
	allow           []bool
	w               who
	defaultAllow    bool
	subscribeAlways bool
}

func (c *clientView) decide(pos int32) bool {
	if pos == none {
		return c.defaultAllow
	}
	return c.allow[pos]
}

func (c *clientView) topic(topic []byte, p perm) bool {
	pi := permIndex(p)
	return c.decide(min(c.own.matchTopic(topic, pi, &c.w), c.shared.matchTopic(topic, pi, &c.w)))
}

// CanPublish: may the client publish to topic (or leave a will on it)?
func (c *clientView) CanPublish(topic []byte) bool {
	return c.topic(topic, permPub)
}

// CanSubscribe: may the client subscribe to filter? The first rule whose
// filter covers it decides; a shared subscription is checked by its inner
// filter.
func (c *clientView) CanSubscribe(filter []byte) bool {
	if c.subscribeAlways {
		return true
	}
	if _, f, shared := router.ParseShared(filter); shared {
		filter = f
	}
	pi := permIndex(permSub)
	return c.decide(min(c.own.coverFilter(filter, pi, &c.w), c.shared.coverFilter(filter, pi, &c.w)))
}

// CanReceive: may a message on topic be delivered to the client?
func (c *clientView) CanReceive(topic []byte) bool {
	return c.topic(topic, permRead)
}
