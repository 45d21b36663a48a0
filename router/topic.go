// Package router holds CP7's topic and filter rules, the sharded subscription
// table, shared-subscription member selection and the retained-message tree.
//
// The package does no I/O and starts no goroutines. Every exported type is safe
// for concurrent use unless its comment says otherwise.
package router

import "bytes"

// maxTopicLen is the longest topic name or filter the protocol can carry: both
// are UTF-8 strings with a two-byte length prefix [MQTT-4.7.3-3].
const maxTopicLen = 65535

// stackLevels is how many level boundaries Match keeps in a stack array. Topics
// with more levels than this still match correctly; their boundaries spill into
// one heap slice for that call only. 64 covers every topic seen in practice
// (nats-server uses 32 tokens for the same reason) and costs 128 bytes of stack.
const stackLevels = 64

// ValidTopicName reports whether t may be used as the topic name of a PUBLISH.
// It checks the rules that are independent of encoding: at least one byte
// [MQTT-4.7.3-1], no wildcard characters [MQTT-3.3.2-2] [MQTT-4.7.1-1], no
// U+0000 [MQTT-4.7.3-2] and at most 65535 bytes [MQTT-4.7.3-3]. UTF-8 validity
// is the codec's check. Empty levels ("a//b", "/a", "a/") are valid.
func ValidTopicName(t []byte) bool {
	if len(t) == 0 || len(t) > maxTopicLen {
		return false
	}
	for _, c := range t {
		switch c {
		case '+', '#', 0:
			return false
		}
	}
	return true
}

// ValidFilter reports whether f is a valid topic filter for SUBSCRIBE or
// UNSUBSCRIBE: at least one byte [MQTT-4.7.3-1], no U+0000 [MQTT-4.7.3-2], at
// most 65535 bytes [MQTT-4.7.3-3], '#' only alone in the last level
// [MQTT-4.7.1-2], '+' only alone in its level [MQTT-4.7.1-3].
//
// For "$share/{group}/{filter}" the group must be at least one byte and hold no
// '/', '+' or '#' [MQTT-4.8.2-1] [MQTT-4.8.2-2], and {filter} must itself be a
// valid, non-empty filter. The same applies to CP7's "$queue/{filter}".
func ValidFilter(f []byte) bool {
	if len(f) == 0 || len(f) > maxTopicLen {
		return false
	}
	if hasPrefix(f, sharePrefix) {
		rest := f[len(sharePrefix):]
		i := indexByte(rest, '/')
		if i <= 0 { // no group, or no '/' after it [MQTT-4.8.2-1] [MQTT-4.8.2-2]
			return false
		}
		for _, c := range rest[:i] {
			if c == '+' || c == '#' || c == 0 { // [MQTT-4.8.2-2]
				return false
			}
		}
		f = rest[i+1:]
		if len(f) == 0 { // the '/' after the group must be followed by a filter [MQTT-4.8.2-2]
			return false
		}
	} else if hasPrefix(f, queuePrefix) {
		f = f[len(queuePrefix):]
		if len(f) == 0 {
			return false
		}
	}
	return validPlainFilter(f)
}

// validPlainFilter checks the wildcard placement of a filter that has no
// shared-subscription prefix.
func validPlainFilter(f []byte) bool {
	start := 0 // first byte of the current level
	for i, c := range f {
		switch c {
		case 0:
			return false // [MQTT-4.7.3-2]
		case '/':
			start = i + 1
		case '+':
			// '+' must fill its whole level [MQTT-4.7.1-3].
			if i != start || (i+1 < len(f) && f[i+1] != '/') {
				return false
			}
		case '#':
			// '#' must be alone in the last level [MQTT-4.7.1-2].
			if i != start || i != len(f)-1 {
				return false
			}
		}
	}
	return true
}

// splitLevels appends to ends, for each level of topic, the index one past its
// last byte (the index of the '/' that follows it, or len(topic)), and returns
// the extended slice. Level i is topic[start(i):ends[i]] where start(0) = 0 and
// start(i) = ends[i-1]+1. Empty levels are levels: "a//b" has three, "/" two.
// Offsets fit uint16 because topics are at most 65535 bytes; the caller passes
// a stack array's slice so that nothing is allocated for up to cap(ends)
// levels.
func splitLevels(topic []byte, ends []uint16) []uint16 {
	for i, c := range topic {
		if c == '/' {
			ends = append(ends, uint16(i))
		}
	}
	return append(ends, uint16(len(topic)))
}

// levelAt returns level i of topic given the boundaries from splitLevels.
func levelAt(topic []byte, ends []uint16, i int) []byte {
	start := 0
	if i > 0 {
		start = int(ends[i-1]) + 1
	}
	return topic[start:ends[i]]
}

// firstLevelString returns the part of s before its first '/' (all of it when
// it has none). Used to pick a shard.
func firstLevelString(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i]
		}
	}
	return s
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}
