package server

import (
	"testing"

	"github.com/cp7/cp7/router"
)

// TestTopicMatchesAgreesWithRouter: the borrowed-slice matcher ClientRules
// use answers as router.TopicMatches over a small alphabet.
func TestTopicMatchesAgreesWithRouter(t *testing.T) {
	levels := []string{"a", "b", "$s", "+", "#", ""}
	var all []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		for _, l := range levels {
			f := l
			if depth > 0 {
				f = prefix + "/" + l
			}
			all = append(all, f)
			if depth < 2 {
				gen(f, depth+1)
			}
		}
	}
	gen("", 0)
	for _, f := range all {
		if !router.ValidFilter([]byte(f)) {
			continue
		}
		for _, tp := range all {
			if !router.ValidTopicName([]byte(tp)) {
				continue
			}
			if got, want := topicMatches(f, []byte(tp)), router.TopicMatches(f, tp); got != want {
				t.Fatalf("topicMatches(%q, %q) = %v, router says %v", f, tp, got, want)
			}
		}
	}
}

// TestClientRulesSubstitution: %u and %c are substituted; a filter naming
// %u for a client without a user name, or an identity that would smuggle a
// wildcard or a level in, grants nothing; nil lists do not confine, empty
// ones allow nothing.
func TestClientRulesSubstitution(t *testing.T) {
	r := &ClientRules{Publish: []string{"up/%c/#", "u/%u"}, Subscribe: []string{}}
	v := newRulesView(r, &ClientIdentity{ClientID: "d1", Username: "alice"})
	for topic, want := range map[string]bool{"up/d1/x": true, "up/d2/x": false, "u/alice": true, "u/bob": false} {
		if v.CanPublish([]byte(topic)) != want {
			t.Errorf("publish %q: want %v", topic, want)
		}
	}
	if v.CanSubscribe([]byte("a")) || v.CanReceive([]byte("a")) {
		t.Error("an empty Subscribe list must allow nothing")
	}
	anon := newRulesView(r, &ClientIdentity{ClientID: "+"})
	if anon.CanPublish([]byte("u/")) || anon.CanPublish([]byte("up/+/x")) || anon.CanPublish([]byte("up/x/y")) {
		t.Error("%u without a user name, or a client id holding '+', must grant nothing")
	}
	open := newRulesView(&ClientRules{Publish: []string{"x"}}, &ClientIdentity{ClientID: "c"})
	if !open.CanSubscribe([]byte("any/#")) || !open.CanReceive([]byte("any")) {
		t.Error("a nil Subscribe list must leave subscribing to the ACL")
	}
}
