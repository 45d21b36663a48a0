package acl

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cp7/cp7/router"
)

// parseCP7 reads CP7's format: one rule per line,
//
//	allow|deny  pub|sub|both  FILTER  [user=NAME] [client=ID] [addr=CIDR] [anonymous]
//
// '#' starts a comment line; values with spaces are double-quoted; a NAME
// or ID ending in '*' is a prefix; %u and %c in FILTER stand for the
// client's user name and client id. docs/ACL.md has the full description.
func parseCP7(name string, data []byte) ([]*rule, error) {
	var rules []*rule
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f, err := fields(line)
		if err != nil {
			return nil, errLine(name, ln, "%v", err)
		}
		r, err := cp7Rule(f)
		if err != nil {
			return nil, errLine(name, ln, "%v", err)
		}
		r.src = fmt.Sprintf("%s:%d", name, ln)
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("acl: %s: %w", name, err)
	}
	return rules, nil
}

const cp7Usage = "a rule is: allow|deny pub|sub|both FILTER [user=NAME] [client=ID] [addr=CIDR] [anonymous]"

func cp7Rule(f []string) (*rule, error) {
	r := &rule{templates: true}
	switch f[0] {
	case "allow":
		r.allow = true
	case "deny":
	default:
		return nil, fmt.Errorf("%q: a rule starts with allow or deny (%s; a Mosquitto acl_file needs -acl-format mosquitto or auto)", f[0], cp7Usage)
	}
	if len(f) < 3 {
		return nil, fmt.Errorf("too few words: %s", cp7Usage)
	}
	switch f[1] {
	case "pub":
		r.perms = permPub
	case "sub":
		r.perms = permSub | permRead // subscribing and receiving go together
	case "both":
		r.perms = permPub | permSub | permRead
	default:
		return nil, fmt.Errorf("%q is not a permission: use pub (publish), sub (subscribe and receive) or both", f[1])
	}
	if err := checkFilter(f[2]); err != nil {
		return nil, err
	}
	r.filter = f[2]
	for _, c := range f[3:] {
		if c == "anonymous" {
			if r.hasUser {
				return nil, fmt.Errorf("anonymous and user= exclude each other")
			}
			r.anonymous = true
			continue
		}
		key, val, ok := strings.Cut(c, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not a condition: use user=NAME, client=ID, addr=CIDR or anonymous", c)
		}
		switch key {
		case "user":
			if r.hasUser || r.anonymous {
				return nil, fmt.Errorf("user= given twice, or with anonymous")
			}
			r.user, r.userPrefix = prefix(val)
			r.hasUser = true
			if r.user == "" && !r.userPrefix {
				return nil, fmt.Errorf("user= is empty: name a user, use user=* for any named user, or anonymous")
			}
		case "client":
			if r.hasClient {
				return nil, fmt.Errorf("client= given twice")
			}
			r.client, r.clientPrefix = prefix(val)
			r.hasClient = true
			if r.client == "" && !r.clientPrefix {
				return nil, fmt.Errorf("client= is empty: name a client id, or a prefix ending in *")
			}
		case "addr":
			if r.hasAddr {
				return nil, fmt.Errorf("addr= given twice")
			}
			p, err := parseAddr(val)
			if err != nil {
				return nil, err
			}
			r.addr, r.hasAddr = p, true
		default:
			return nil, fmt.Errorf("%q is not a condition: use user=NAME, client=ID, addr=CIDR or anonymous", key)
		}
	}
	return r, nil
}

// checkFilter validates a rule's topic filter.
func checkFilter(f string) error {
	if _, _, shared := router.ParseShared([]byte(f)); shared {
		return fmt.Errorf("filter %q is a shared subscription: write the topic filter inside it (a $share/group/x subscription is checked as x)", f)
	}
	if !router.ValidFilter([]byte(f)) {
		return fmt.Errorf("filter %q is not a valid topic filter: '+' and '#' stand alone in their level, '#' only last", f)
	}
	return nil
}

func prefix(v string) (string, bool) {
	if strings.HasSuffix(v, "*") {
		return v[:len(v)-1], true
	}
	return v, false
}

// parseAddr reads a CIDR or a single address.
func parseAddr(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("addr=%s is not a CIDR such as 10.0.0.0/8 or fd00::/8", v)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("addr=%s is not an address or a CIDR such as 10.0.0.0/8", v)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// fields splits a line at white space; a double-quoted part (Go syntax) may
// hold spaces, also after key= ("user=\"a b\"").
func fields(line string) ([]string, error) {
	var out []string
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return out, nil
		}
		end := strings.IndexAny(line, " \t\"")
		if end < 0 {
			return append(out, line), nil
		}
		if line[end] != '"' {
			out = append(out, line[:end])
			line = line[end:]
			continue
		}
		q, err := strconv.QuotedPrefix(line[end:])
		if err != nil {
			return nil, fmt.Errorf("unterminated or bad quoted value in %q", line)
		}
		v, _ := strconv.Unquote(q)
		out = append(out, line[:end]+v)
		line = line[end+len(q):]
		if line != "" && line[0] != ' ' && line[0] != '\t' {
			return nil, fmt.Errorf("text right after a quoted value in %q: separate words with spaces", line)
		}
	}
}
