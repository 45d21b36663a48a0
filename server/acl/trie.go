package acl

import (
	"bytes"
	"math"
	"strings"
)

// The rules that select one client are compiled into a trie of topic-filter
// levels, so a check walks the topic's levels (and the wildcard branches
// beside them) instead of comparing the topic with every rule: 10,000 rules
// cost about as much as 10. First match wins, so each node keeps, per
// permission, the smallest position of a rule ending there; a check takes
// the smallest position over every node the topic reaches and returns that
// rule's allow or deny.

// perm is what a rule grants or denies.
type perm uint8

const (
	permPub  perm = 1 << iota // PUBLISH to a topic (and a will on it)
	permSub                   // SUBSCRIBE to a filter
	permRead                  // receive a message on a topic (live or retained)
	nPerms   = 3
)

// permIndex is the slot of a single permission in a node's arrays.
func permIndex(p perm) int {
	switch p {
	case permPub:
		return 0
	case permSub:
		return 1
	default:
		return 2
	}
}

// none is the position of "no rule".
const none = math.MaxInt32

// node is one level of the compiled filters. Owner: a view, immutable once
// built, shared by every client whose rules are the same.
type node struct {
	// Literal levels: the first in one/oneKey (most nodes have one child,
	// and a string compare is cheaper than hashing), the others in lit.
	one    *node
	oneKey string
	lit    map[string]*node
	plus   *node         // "+"
	tmpl   []tmplEdge    // levels holding %u or %c, resolved per client
	end    [nPerms]int32 // rules whose filter ends at this node
	hash   [nPerms]int32 // rules whose filter ends with "#" below this node
	// below has bit 1<<slot set when a rule with that permission ends at
	// or under this node: a check skips the branches that cannot decide
	// it (a receive check does not walk a subtree of publish rules).
	below uint8
}

func newNode() *node {
	n := &node{}
	for i := range n.end {
		n.end[i], n.hash[i] = none, none
	}
	return n
}

// tmplEdge is a level such as "%c" or "dev-%u": literal text and
// substitutions that must together spell the topic's level exactly.
type tmplEdge struct {
	text  string
	parts []tmplPart
	n     *node
}

type tmplPart struct {
	kind byte // 0 literal, 'u' username, 'c' client id
	lit  string
}

// who is the identity the templates are resolved against.
type who struct {
	user, client string
}

// matches reports whether level spells the template for w. An anonymous
// client matches no %u (Mosquitto skips such patterns too), and a level
// never contains '/', so an identity holding one matches nothing.
func (e *tmplEdge) matches(level []byte, w *who) bool {
	rest := level
	for i := range e.parts {
		p := &e.parts[i]
		s := p.lit
		switch p.kind {
		case 'u':
			if w.user == "" {
				return false
			}
			s = w.user
		case 'c':
			s = w.client
		}
		if len(rest) < len(s) || string(rest[:len(s)]) != s {
			return false
		}
		rest = rest[len(s):]
	}
	return len(rest) == 0
}

// parseTemplate splits a level holding %u or %c; ok is false if it holds
// neither.
func parseTemplate(level string) (parts []tmplPart, ok bool) {
	if !strings.Contains(level, "%u") && !strings.Contains(level, "%c") {
		return nil, false
	}
	lit := 0
	for i := 0; i+1 < len(level); i++ {
		if level[i] != '%' || (level[i+1] != 'u' && level[i+1] != 'c') {
			continue
		}
		if i > lit {
			parts = append(parts, tmplPart{lit: level[lit:i]})
		}
		parts = append(parts, tmplPart{kind: level[i+1]})
		i++
		lit = i + 1
	}
	if lit < len(level) {
		parts = append(parts, tmplPart{lit: level[lit:]})
	}
	return parts, true
}

// view is a compiled set of rules. Nodes hold the rules' positions in the
// file (Rules.allow says what each decides), so that two views (a client's
// own rules and the rules for everybody) are checked separately and the
// smaller position wins, as if they were one list.
type view struct {
	root *node
	n    int // rules compiled in
}

// build compiles rules[pos] for each of positions, given in order.
func build(rules []*rule, positions []int32) *view {
	v := &view{root: newNode(), n: len(positions)}
	for _, p := range positions {
		v.insert(rules[p], p)
	}
	return v
}

func (v *view) insert(r *rule, pos int32) {
	n := v.root
	mask := slotMask(r.perms)
	n.below |= mask
	levels := strings.Split(r.filter, "/")
	for i, lv := range levels {
		if lv == "#" && i == len(levels)-1 {
			setFirst(&n.hash, r.perms, pos)
			return
		}
		n = n.child(lv, r.templates)
		n.below |= mask
	}
	setFirst(&n.end, r.perms, pos)
}

// slotMask is the below bits of perms.
func slotMask(perms perm) uint8 {
	var m uint8
	for _, p := range [...]perm{permPub, permSub, permRead} {
		if perms&p != 0 {
			m |= 1 << permIndex(p)
		}
	}
	return m
}

// setFirst records pos for each permission of perms not yet held by an
// earlier rule (rules are inserted in order: the first one wins).
func setFirst(a *[nPerms]int32, perms perm, pos int32) {
	for _, p := range [...]perm{permPub, permSub, permRead} {
		if perms&p != 0 && a[permIndex(p)] == none {
			a[permIndex(p)] = pos
		}
	}
}

func (n *node) child(level string, templates bool) *node {
	if level == "+" {
		if n.plus == nil {
			n.plus = newNode()
		}
		return n.plus
	}
	if templates {
		if parts, ok := parseTemplate(level); ok {
			for i := range n.tmpl {
				if n.tmpl[i].text == level {
					return n.tmpl[i].n
				}
			}
			c := newNode()
			n.tmpl = append(n.tmpl, tmplEdge{text: level, parts: parts, n: c})
			return c
		}
	}
	if c := n.literal(level); c != nil {
		return c
	}
	c := newNode()
	if n.one == nil {
		n.one, n.oneKey = c, level
		return c
	}
	if n.lit == nil {
		n.lit = make(map[string]*node, 1)
	}
	n.lit[level] = c
	return c
}

// literal returns the child for a literal level, or nil.
func (n *node) literal(level string) *node {
	if n.one != nil && n.oneKey == level {
		return n.one
	}
	return n.lit[level]
}

// literalBytes is literal for a borrowed level, without copying it.
func (n *node) literalBytes(level []byte) *node {
	if n.one != nil && n.oneKey == string(level) {
		return n.one
	}
	if n.lit == nil {
		return nil
	}
	return n.lit[string(level)]
}

// cut splits the first level off t.
func cut(t []byte) (level, rest []byte, more bool) {
	if i := bytes.IndexByte(t, '/'); i >= 0 {
		return t[:i], t[i+1:], true
	}
	return t, nil, false
}

// matchTopic returns the position of the first rule holding permission p
// (slot pi) whose filter matches topic, or none. A wildcard in the first
// level does not match a topic starting with '$' [MQTT-4.7.2-1], so "#"
// does not grant "$SYS/..." (Mosquitto's rule too).
func (v *view) matchTopic(topic []byte, pi int, w *who) int32 {
	if v == nil {
		return none
	}
	return v.root.match(topic, pi, w, true, none)
}

func (n *node) match(t []byte, pi int, w *who, first bool, best int32) int32 {
	level, rest, more := cut(t)
	dollar := first && len(level) > 0 && level[0] == '$'
	if !dollar {
		best = min(best, n.hash[pi]) // "x/#" matches every level below x
	}
	if c := n.literalBytes(level); c != nil {
		best = c.next(rest, more, pi, w, best)
	}
	if n.plus != nil && !dollar {
		best = n.plus.next(rest, more, pi, w, best)
	}
	for i := range n.tmpl {
		if e := &n.tmpl[i]; e.matches(level, w) {
			best = e.n.next(rest, more, pi, w, best)
		}
	}
	return best
}

func (n *node) next(rest []byte, more bool, pi int, w *who, best int32) int32 {
	if n.below&(1<<pi) == 0 {
		return best
	}
	if !more {
		// "x/#" also matches x itself [MQTT-4.7.1-2].
		return min(best, n.end[pi], n.hash[pi])
	}
	return n.match(rest, pi, w, false, best)
}

// coverFilter returns the position of the first rule holding permission
// slot pi whose filter covers filter: every topic filter matches, the rule
// matches too. So "sensors/#" covers "sensors/+/temp", and "sensors/+/temp"
// does not cover "sensors/#" (which also reaches sensors/a/humidity).
func (v *view) coverFilter(filter []byte, pi int, w *who) int32 {
	if v == nil {
		return none
	}
	return v.root.cover(filter, pi, w, true, none)
}

func (n *node) cover(f []byte, pi int, w *who, first bool, best int32) int32 {
	level, rest, more := cut(f)
	switch {
	case len(level) == 1 && level[0] == '#':
		// Only a rule with "#" at this same level covers it.
		return min(best, n.hash[pi])
	case len(level) == 1 && level[0] == '+':
		best = min(best, n.hash[pi])
		if n.plus != nil {
			best = n.plus.coverNext(rest, more, pi, w, best)
		}
		return best
	}
	dollar := first && len(level) > 0 && level[0] == '$'
	if !dollar {
		best = min(best, n.hash[pi])
		if n.plus != nil {
			best = n.plus.coverNext(rest, more, pi, w, best)
		}
	}
	if c := n.literalBytes(level); c != nil {
		best = c.coverNext(rest, more, pi, w, best)
	}
	for i := range n.tmpl {
		if e := &n.tmpl[i]; e.matches(level, w) {
			best = e.n.coverNext(rest, more, pi, w, best)
		}
	}
	return best
}

func (n *node) coverNext(rest []byte, more bool, pi int, w *who, best int32) int32 {
	if n.below&(1<<pi) == 0 {
		return best
	}
	if !more {
		return min(best, n.end[pi], n.hash[pi])
	}
	return n.cover(rest, pi, w, false, best)
}
