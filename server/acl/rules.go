// Package acl is CP7's topic access control list: a rule file read in CP7's
// own format or in Mosquitto's acl_file format, compiled per client into a
// trie, and swapped atomically on reload. It implements server.Authorizer.
//
// The CP7 format is documented in docs/ACL.md, with a commented example in
// deploy/acl.example.
package acl

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// Format is the syntax of a rule file.
type Format int

const (
	// FormatAuto tells the formats apart by the first directive: allow or
	// deny is CP7's, user, topic or pattern is Mosquitto's.
	FormatAuto Format = iota
	// FormatCP7 is one self-contained rule per line (docs/ACL.md).
	FormatCP7
	// FormatMosquitto is Mosquitto's acl_file, with Mosquitto's meaning.
	FormatMosquitto
)

// ParseFormat reads a -acl-format value.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "auto":
		return FormatAuto, nil
	case "cp7":
		return FormatCP7, nil
	case "mosquitto":
		return FormatMosquitto, nil
	}
	return 0, fmt.Errorf("acl: format %q is not known: use auto, cp7 or mosquitto", s)
}

func (f Format) String() string {
	switch f {
	case FormatCP7:
		return "cp7"
	case FormatMosquitto:
		return "mosquitto"
	}
	return "auto"
}

// rule is one entry, after parsing. Its position in Rules.rules is its
// priority: the first rule that selects a client and matches decides.
type rule struct {
	allow  bool
	perms  perm
	filter string // topic filter; %u and %c are substitutions when templates
	// templates says whether %u and %c in filter are substituted (every
	// CP7 rule; Mosquitto's pattern lines but not its topic lines).
	templates bool

	// Who the rule is for; every condition given must hold.
	user, client       string // exact, or a prefix when the flag is set
	hasUser, hasClient bool
	userPrefix         bool
	clientPrefix       bool
	anonymous          bool // only clients without a user name
	addr               netip.Prefix
	hasAddr            bool

	pattern bool   // a Mosquitto pattern line (see Rules.forClient)
	src     string // "file:line", for messages
}

// selects reports whether r applies to the client.
func (r *rule) selects(user, client string, addr netip.Addr) bool {
	if r.anonymous && user != "" {
		return false
	}
	if r.hasUser {
		if r.userPrefix {
			if user == "" || !strings.HasPrefix(user, r.user) {
				return false
			}
		} else if user != r.user {
			return false
		}
	}
	if r.hasClient {
		if r.clientPrefix {
			if !strings.HasPrefix(client, r.client) {
				return false
			}
		} else if client != r.client {
			return false
		}
	}
	if r.hasAddr && (!addr.IsValid() || !r.addr.Contains(addr)) {
		return false
	}
	return true
}

// Load reads and compiles the rule file at path.
func Load(path string, format Format) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("acl: cannot read the rule file: %w", err)
	}
	return Parse(path, data, format)
}

// Parse compiles a rule file's contents; name is used in messages.
func Parse(name string, data []byte, format Format) (*Rules, error) {
	if format == FormatAuto {
		var err error
		if format, err = detect(name, data); err != nil {
			return nil, err
		}
	}
	var (
		rs  []*rule
		err error
		r   = &Rules{name: name, format: format}
	)
	switch format {
	case FormatCP7:
		rs, err = parseCP7(name, data)
	case FormatMosquitto:
		rs, r.Warnings, err = parseMosquitto(name, data)
		r.subscribeAlways = true
	default:
		return nil, fmt.Errorf("acl: %s: unknown format %d", name, format)
	}
	if err != nil {
		return nil, err
	}
	r.index(rs)
	return r, nil
}

// detect tells the formats apart by the first directive of the file.
func detect(name string, data []byte) (Format, error) {
	for i, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		word, _, _ := strings.Cut(strings.ReplaceAll(s, "\t", " "), " ")
		switch word {
		case "allow", "deny":
			return FormatCP7, nil
		case "user", "topic", "pattern":
			return FormatMosquitto, nil
		}
		return 0, fmt.Errorf("acl: %s:%d: %q starts neither format: a CP7 rule starts with allow or deny, a Mosquitto acl_file line with user, topic or pattern (or set -acl-format)", name, i+1, word)
	}
	// Nothing but comments: either format means "no rules".
	return FormatCP7, nil
}

// errLine formats a parse error naming the file and line.
func errLine(name string, line int, format string, args ...any) error {
	return fmt.Errorf("acl: %s:%d: %s", name, line, fmt.Sprintf(format, args...))
}
