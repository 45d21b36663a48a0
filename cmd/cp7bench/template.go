package main

import (
	"strconv"
	"strings"

	"github.com/cp7/cp7/router"
)

// expand fills a topic or client-id template: %i becomes the client's global
// index, %c its client id, %% a single percent sign. Any other %x is kept as
// written.
func expand(tmpl string, index int, clientID string) string {
	if !strings.Contains(tmpl, "%") {
		return tmpl
	}
	var b strings.Builder
	b.Grow(len(tmpl) + 16)
	for i := 0; i < len(tmpl); i++ {
		ch := tmpl[i]
		if ch != '%' || i+1 == len(tmpl) {
			b.WriteByte(ch)
			continue
		}
		switch tmpl[i+1] {
		case 'i':
			b.WriteString(strconv.Itoa(index))
		case 'c':
			b.WriteString(clientID)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(tmpl[i+1])
		}
		i++
	}
	return b.String()
}

// shareGroup splits a shared-subscription filter "$share/group/filter" (and
// CP7's "$queue/filter", one implicit group) into its group and filter.
func shareGroup(filter string) (group, f string, shared bool) {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		g, f, ok := strings.Cut(rest, "/")
		if ok {
			return "$share/" + g, f, true
		}
	}
	if rest, ok := strings.CutPrefix(filter, "$queue/"); ok {
		return "$queue", rest, true
	}
	return "", filter, false
}

// fanOut returns how many deliveries one publish to topic causes, given every
// subscriber's filter: one per matching plain subscription and one per shared
// group with at least one matching member. Overlapping filters of the same
// subscriber do not occur here: each cp7bench subscriber has one filter.
func fanOut(topic string, filters []string) int {
	n := 0
	var groups map[string]bool
	for _, fl := range filters {
		g, f, shared := shareGroup(fl)
		if !router.TopicMatches(f, topic) {
			continue
		}
		if !shared {
			n++
			continue
		}
		if groups == nil {
			groups = make(map[string]bool)
		}
		if !groups[g+"\x00"+f] {
			groups[g+"\x00"+f] = true
			n++
		}
	}
	return n
}
