package cluster

import (
	"strings"
)

// MQTT topics and filters become NATS subjects so that NATS's own interest
// routing carries a message only to nodes that hold a matching filter.
//
//   - Topic levels become subject tokens: "a/b" → "cp7.m.a.b".
//   - A topic whose first level starts with '$' lives under another prefix,
//     "cp7.d.", so that filters starting with a wildcard (mapped under
//     "cp7.m." only) never match it [MQTT-4.7.2-1].
//   - '+' → '*'; "a/#" → both "cp7.m.a" and "cp7.m.a.>" ('#' also matches
//     the parent level [MQTT-4.7.1-2]); "#" → "cp7.m.>".
//   - Each level is escaped: bytes other than ASCII letters, digits, '-',
//     '_' and non-ASCII (UTF-8) bytes become "~XX" (hex), so NATS's
//     reserved '.', '*', '>', whitespace and control bytes never reach a
//     subject, and '~' itself is escaped. An empty level is "~", which no
//     non-empty level can produce: the mapping is reversible (Unescape).
const (
	subjPrefix       = "cp7.m."
	subjDollarPrefix = "cp7.d."
)

const hexDigits = "0123456789ABCDEF"

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80
}

// appendLevel appends one topic level as a subject token.
func appendLevel[T ~string | ~[]byte](dst []byte, level T) []byte {
	if len(level) == 0 {
		return append(dst, '~')
	}
	for i := 0; i < len(level); i++ {
		c := level[i]
		if plainByte(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '~', hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// AppendSubject appends the subject of topic (a valid topic name) to dst.
func AppendSubject(dst []byte, topic []byte) []byte {
	if len(topic) > 0 && topic[0] == '$' {
		dst = append(dst, subjDollarPrefix...)
	} else {
		dst = append(dst, subjPrefix...)
	}
	start := 0
	for i := 0; i <= len(topic); i++ {
		if i == len(topic) || topic[i] == '/' {
			if start > 0 {
				dst = append(dst, '.')
			}
			dst = appendLevel(dst, topic[start:i])
			start = i + 1
		}
	}
	return dst
}

// Subject returns the subject of topic.
func Subject(topic string) string { return string(AppendSubject(nil, []byte(topic))) }

// FilterSubjects returns the subjects whose union NATS matches exactly where
// the MQTT filter (without any $share prefix) matches: one, or two for a
// filter ending in "/#".
func FilterSubjects(filter string) []string {
	levels := strings.Split(filter, "/")
	prefix := subjPrefix
	if strings.HasPrefix(filter, "$") {
		prefix = subjDollarPrefix
	}
	b := []byte(prefix)
	for i, lv := range levels {
		if i > 0 {
			b = append(b, '.')
		}
		switch lv {
		case "+":
			b = append(b, '*')
		case "#":
			if i == 0 {
				return []string{string(append(b, '>'))}
			}
			parent := string(b[:len(b)-1]) // "a/#" matches "a" too
			return []string{parent, string(append(b, '>'))}
		default:
			b = appendLevel(b, lv)
		}
	}
	return []string{string(b)}
}

// QueueName is the NATS queue group of a shared subscription group.
func QueueName(group string) string { return "cp7_" + string(appendLevel(nil, group)) }

// Unescape turns a subject made by AppendSubject back into its topic; ok is
// false for a subject that AppendSubject cannot have made.
func Unescape(subject string) (topic string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(subject, subjPrefix):
		rest = subject[len(subjPrefix):]
	case strings.HasPrefix(subject, subjDollarPrefix):
		rest = subject[len(subjDollarPrefix):]
	default:
		return "", false
	}
	out := make([]byte, 0, len(rest))
	for i, tok := range strings.Split(rest, ".") {
		if i > 0 {
			out = append(out, '/')
		}
		if tok == "~" {
			continue
		}
		for j := 0; j < len(tok); j++ {
			c := tok[j]
			if c != '~' {
				if !plainByte(c) {
					return "", false
				}
				out = append(out, c)
				continue
			}
			if j+2 >= len(tok) {
				return "", false
			}
			h, l := unhex(tok[j+1]), unhex(tok[j+2])
			if h < 0 || l < 0 {
				return "", false
			}
			out = append(out, byte(h<<4|l))
			j += 2
		}
	}
	t := string(out)
	if (t != "" && t[0] == '$') != strings.HasPrefix(subject, subjDollarPrefix) {
		return "", false
	}
	return t, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
