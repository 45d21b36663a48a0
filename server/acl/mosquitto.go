package acl

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// parseMosquitto reads Mosquitto's acl_file (mosquitto.conf(5), read from
// Mosquitto 2.0's src/security_default.c) and orders the rules so that CP7's
// first-match evaluation gives Mosquitto's answers:
//
//   - "topic [read|write|readwrite|deny] FILTER" lines before any "user"
//     line are for clients without a user name; after "user NAME" they are
//     for that user (a user's lines may be spread over several sections).
//     Without an access word the access is readwrite; "topic read" alone is
//     a topic named "read", as in Mosquitto.
//   - "pattern ..." lines are for every client, with %u and %c substituted;
//     a pattern with %u never matches a client without a user name.
//   - A client's own section is checked first, then the patterns. Within
//     each, any matching deny refuses at once ("deny" lines are checked
//     before grants); otherwise the first grant that matches and carries the
//     access allows. Nothing matching: the default (deny, as Mosquitto).
//   - read is receiving (live and retained messages); write is publishing.
//     SUBSCRIBE itself is not checked: Mosquitto 2.0's acl_file grants every
//     subscription and filters what is delivered (Rules.subscribeAlways).
//   - A client whose user name or client id holds '+' or '#' gets no
//     patterns at all (Mosquitto denies it rather than substitute).
//
// Lines whose first character is '#' are comments; words are separated by
// spaces; a topic may contain spaces (the rest of the line is the topic).
func parseMosquitto(name string, data []byte) (rules []*rule, warnings []string, err error) {
	type section struct {
		denies, grants []*rule
	}
	var (
		order    []string // section names in order of first appearance; "" is anonymous
		sections = map[string]*section{}
		patterns section
		user     string
		anon     = true
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimRight(sc.Text(), " \t\r\n\v\f")
		if strings.TrimLeft(line, " \t") == "" || strings.TrimLeft(line, " \t")[0] == '#' {
			continue
		}
		line = strings.TrimLeft(line, " ")
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "user":
			u := strings.TrimSpace(rest)
			if u == "" {
				return nil, nil, errLine(name, ln, "user without a name: write user NAME")
			}
			user, anon = u, false
		case "topic", "pattern":
			rest = strings.TrimLeft(rest, " ")
			access, topic, found := strings.Cut(rest, " ")
			if access == "" {
				return nil, nil, errLine(name, ln, "%s without a topic: write %s [read|write|readwrite|deny] FILTER", word, word)
			}
			if found {
				topic = strings.TrimSpace(topic)
			}
			if !found || topic == "" {
				topic, access = access, "" // one word: the topic, readwrite
			}
			r := &rule{allow: true, filter: topic, src: fmt.Sprintf("%s:%d", name, ln)}
			switch access {
			case "read":
				r.perms = permRead
			case "write":
				r.perms = permPub
			case "readwrite", "":
				r.perms = permRead | permPub
			case "deny":
				r.allow, r.perms = false, permRead|permPub|permSub
			default:
				return nil, nil, errLine(name, ln, "access %q is not one of read, write, readwrite or deny", access)
			}
			if err := checkFilter(topic); err != nil {
				return nil, nil, errLine(name, ln, "%v", err)
			}
			var sec *section
			if word == "pattern" {
				r.pattern, r.templates = true, true
				if !strings.Contains(topic, "%u") && !strings.Contains(topic, "%c") {
					warnings = append(warnings, fmt.Sprintf("%s: pattern %q contains neither %%c nor %%u", r.src, topic))
				}
				sec = &patterns
			} else {
				key := user
				if anon {
					key = ""
					r.anonymous = true
				} else {
					r.user, r.hasUser = user, true
				}
				sec = sections[key]
				if sec == nil {
					sec = &section{}
					sections[key] = sec
					order = append(order, key)
				}
			}
			if r.allow {
				sec.grants = append(sec.grants, r)
			} else {
				sec.denies = append(sec.denies, r)
			}
		default:
			return nil, nil, errLine(name, ln, "%q is not a Mosquitto acl_file line: use user NAME, topic [read|write|readwrite|deny] FILTER or pattern [read|write|readwrite|deny] FILTER", word)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("acl: %s: %w", name, err)
	}
	for _, key := range order {
		s := sections[key]
		rules = append(rules, s.denies...)
		rules = append(rules, s.grants...)
	}
	rules = append(rules, patterns.denies...)
	rules = append(rules, patterns.grants...)
	return rules, warnings, nil
}
