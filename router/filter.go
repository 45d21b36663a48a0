package router

// Shared-subscription prefixes. "$share/{group}/{filter}" is MQTT 5's shared
// subscription [MQTT-4.8.2-1]; CP7 also accepts it from 3.1 and 3.1.1 clients,
// as Mosquitto and EMQX do. "$queue/{filter}" is CP7's shorthand (EMQX's too)
// for the group named "$queue": every "$queue/" subscriber of a filter is in one
// group, the same group as "$share/$queue/{filter}".
const (
	sharePrefix = "$share/"
	queuePrefix = "$queue/"
	// QueueGroup is the group name that "$queue/{filter}" subscriptions share.
	QueueGroup = "$queue"
)

// queueGroupBytes is what ParseShared returns as the group of a "$queue/"
// filter. Callers must not modify it.
var queueGroupBytes = []byte(QueueGroup)

// ParseShared splits a shared-subscription filter:
//
//	"$share/{group}/{filter}" -> (group, filter, true)
//	"$queue/{filter}"         -> ("$queue", filter, true)
//	anything else             -> (nil, f, false)
//
// The returned slices alias f (the "$queue" group aliases a package variable):
// do not modify them. A "$share/" filter with no '/' after the group is not
// parsed as shared; ValidFilter rejects it, and callers validate first.
func ParseShared(f []byte) (group, filter []byte, shared bool) {
	if hasPrefix(f, sharePrefix) {
		rest := f[len(sharePrefix):]
		if i := indexByte(rest, '/'); i >= 0 {
			return rest[:i], rest[i+1:], true
		}
		return nil, f, false
	}
	if hasPrefix(f, queuePrefix) {
		return queueGroupBytes, f[len(queuePrefix):], true
	}
	return nil, f, false
}

// parseSharedString is ParseShared for the strings the table stores, so that
// Subscribe derives Group and the inner filter by slicing, without copying.
func parseSharedString(f string) (group, filter string, shared bool) {
	if len(f) >= len(sharePrefix) && f[:len(sharePrefix)] == sharePrefix {
		rest := f[len(sharePrefix):]
		for i := 0; i < len(rest); i++ {
			if rest[i] == '/' {
				return rest[:i], rest[i+1:], true
			}
		}
		return "", f, false
	}
	if len(f) >= len(queuePrefix) && f[:len(queuePrefix)] == queuePrefix {
		return QueueGroup, f[len(queuePrefix):], true
	}
	return "", f, false
}
