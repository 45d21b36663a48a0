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
