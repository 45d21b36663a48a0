package server

import (
	"strings"

	"github.com/cp7/cp7/router"
)

// rulesView applies ClientRules: short lists (a token's claims), matched
// one filter after another, with %u and %c substituted once, at CONNECT.
type rulesView struct {
	pub, sub    []string
	pubN, subN  bool // the list was given (nil means: no confinement)
	user, cltID string
}

func newRulesView(r *ClientRules, id *ClientIdentity) *rulesView {
	v := &rulesView{pubN: r.Publish != nil, subN: r.Subscribe != nil}
	v.pub = substituteAll(r.Publish, id)
	v.sub = substituteAll(r.Subscribe, id)
	return v
}

// substituteAll replaces %u and %c. A filter naming %u for a client without
// a user name is dropped (it grants nothing), as is one whose substitution
// would smuggle a wildcard or a level separator in.
func substituteAll(fs []string, id *ClientIdentity) []string {
	var out []string
	for _, f := range fs {
		if strings.Contains(f, "%u") {
			if id.Username == "" || strings.ContainsAny(id.Username, "+#/") {
				continue
			}
			f = strings.ReplaceAll(f, "%u", id.Username)
		}
		if strings.Contains(f, "%c") {
			if strings.ContainsAny(id.ClientID, "+#/") {
				continue
			}
			f = strings.ReplaceAll(f, "%c", id.ClientID)
		}
		out = append(out, f)
	}
	return out
}

func (v *rulesView) CanPublish(t []byte) bool {
	if !v.pubN {
		return true
	}
	for _, f := range v.pub {
		if topicMatches(f, t) {
			return true
		}
	}
	return false
}

func (v *rulesView) CanSubscribe(filter []byte) bool {
	if !v.subN {
		return true
	}
	if _, f, shared := router.ParseShared(filter); shared {
		filter = f
	}
	for _, f := range v.sub {
		if router.FilterCovers(f, string(filter)) {
			return true
		}
	}
	return false
}

func (v *rulesView) CanReceive(t []byte) bool {
	if !v.subN {
		return true
	}
	for _, f := range v.sub {
		if topicMatches(f, t) {
			return true
		}
	}
	return false
}

// topicMatches is router.TopicMatches on a borrowed topic, without
// copying it.
func topicMatches(filter string, topic []byte) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := topic, []byte(nil), false
		for i, ch := range topic {
			if ch == '/' {
				tl, trest, tmore = topic[:i], topic[i+1:], true
				break
			}
		}
		if fl != "+" && fl != string(tl) {
			return false
		}
		if !fmore || !tmore {
			return fmore == tmore || (fmore && frest == "#") // "a/#" matches "a" [MQTT-4.7.1-2]
		}
		filter, topic = frest, trest
	}
}
