package router

import "strings"

// TopicMatches reports whether an MQTT topic name matches a topic filter:
// '+' matches exactly one level, a trailing '#' matches the parent level and
// any number of levels below it, and a wildcard in the first level does not
// match a topic that starts with '$' [MQTT-4.7.2-1]. It works on strings
// level by level, for tools and tests; the broker matches through Table's
// trie.
func TopicMatches(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" also matches "a" [MQTT-4.7.1-2].
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

// FilterCovers reports whether every topic that inner matches is matched
// by outer too: "a/#" covers "a/+/b" and "a", "+" covers "x" and "+", but
// "a/+" does not cover "a/#". An access rule outer allows a subscription to
// inner only if it covers it. inner may not be a shared subscription (pass
// its filter, from ParseShared).
func FilterCovers(outer, inner string) bool {
	first := true
	for {
		ol, orest, omore := strings.Cut(outer, "/")
		il, irest, imore := strings.Cut(inner, "/")
		dollar := first && strings.HasPrefix(il, "$")
		first = false
		switch {
		case ol == "#" && !omore:
			return !dollar // "#" covers everything here but a '$' first level [MQTT-4.7.2-1]
		case il == "#":
			return false // only "#" at the same level covers "#"
		case ol == "+":
			if il != "+" && dollar {
				return false
			}
		case ol != il || il == "+":
			return false
		}
		if !imore {
			// inner ends here: outer must end too, or go on with just "/#".
			return !omore || orest == "#"
		}
		if !omore {
			return false
		}
		outer, inner = orest, irest
	}
}
