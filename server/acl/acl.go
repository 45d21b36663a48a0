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
	// Index: a client's candidate rules are those of its user name, its
	// client id, the anonymous ones when it has no user name, the ones for
	// everybody, and the conditional ones (CIDR, prefixes) checked one by
	// one. A file of per-user rules therefore costs each client only its
	// own lines, at CONNECT, whatever the file's size.
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

	alwaysView *view // the view of a client selecting only `always`
	mu         sync.Mutex
	views      map[string]*view // by the positions selected
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
	r.byUser = map[string][]int32{}
	r.byClient = map[string][]int32{}
	r.views = map[string]*view{}
	for i, x := range rules {
		pos := int32(i)
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
	sel := make([]*rule, len(r.always))
	for i, p := range r.always {
		sel[i] = rules[p]
	}
	r.alwaysView = build(sel)
}

// selection returns the positions of the rules that apply to a client, in
// order. dangerous drops Mosquitto patterns (see parseMosquitto).
func (r *Rules) selection(user, client string, addr netip.Addr, dangerous bool) []int32 {
	var sel []int32
	add := func(ps []int32) {
		for _, p := range ps {
			x := r.rules[p]
			if dangerous && x.pattern {
				continue
			}
			if x.selects(user, client, addr) {
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
	if len(sel) == 0 && !dangerous {
		return nil // only `always`: the shared view
	}
	add(r.always)
	if sel == nil {
		sel = []int32{} // not nil: nil stands for the shared view
	}
	slices.Sort(sel)
	return sel
}

// viewFor returns the compiled view of a selection, shared with every
// client that selects the same rules.
func (r *Rules) viewFor(sel []int32) *view {
	if sel == nil {
		return r.alwaysView
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
	rs := make([]*rule, len(sel))
	for i, p := range sel {
		rs[i] = r.rules[p]
	}
	v = build(rs)
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
// The compiled trie is shared by every client that selects the same rules
// (%u and %c are resolved while matching, not compiled in); the view costs
// one small allocation per client.
func (a *ACL) ForClient(id *server.ClientIdentity) server.TopicAuthorizer {
	st := a.cur.Load()
	r := st.rules
	addr := addrOf(id.Remote)
	dangerous := r.patterns && strings.ContainsAny(id.Username+id.ClientID, "+#")
	sel := r.selection(id.Username, id.ClientID, addr, dangerous)
	v := r.viewFor(sel)
	if len(v.allow) == 0 && st.defaultAllow && !dangerous {
		return nil // nothing applies and everything is allowed: no checks
	}
	return &clientView{v: v, w: who{user: id.Username, client: id.ClientID},
		defaultAllow: st.defaultAllow && !dangerous, subscribeAlways: r.subscribeAlways}
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

// clientView is one client's compiled rules (server.TopicAuthorizer):
// the shared trie and the identity its %u and %c resolve to. Owned by the
// client's event loop; the trie is read-only.
type clientView struct {
	v               *view
	w               who
	defaultAllow    bool
	subscribeAlways bool
}

func (c *clientView) decide(pos int32) bool {
	if pos == none {
		return c.defaultAllow
	}
	return c.v.allow[pos]
}

// CanPublish: may the client publish to topic (or leave a will on it)?
func (c *clientView) CanPublish(topic []byte) bool {
	return c.decide(c.v.matchTopic(topic, permIndex(permPub), &c.w))
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
	return c.decide(c.v.coverFilter(filter, permIndex(permSub), &c.w))
}

// CanReceive: may a message on topic be delivered to the client?
func (c *clientView) CanReceive(topic []byte) bool {
	return c.decide(c.v.matchTopic(topic, permIndex(permRead), &c.w))
}
