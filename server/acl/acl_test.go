package acl

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server"
)

// check is one question put to a client's view.
type check struct {
	op    string // pub, sub, recv
	topic string
	want  bool
}

type ident struct {
	user, client, addr string
}

func viewOf(t *testing.T, r *Rules, defaultAllow bool, id ident) server.TopicAuthorizer {
	t.Helper()
	ci := &server.ClientIdentity{ClientID: id.client, Username: id.user}
	if id.addr != "" {
		ci.Remote = &net.TCPAddr{IP: net.ParseIP(id.addr), Port: 40000}
	}
	return New(r, defaultAllow).ForClient(ci)
}

func ask(v server.TopicAuthorizer, c check) bool {
	if v == nil {
		return true
	}
	switch c.op {
	case "pub":
		return v.CanPublish([]byte(c.topic))
	case "sub":
		return v.CanSubscribe([]byte(c.topic))
	default:
		return v.CanReceive([]byte(c.topic))
	}
}

func parse(t *testing.T, text string, f Format) *Rules {
	t.Helper()
	r, err := Parse("test.acl", []byte(text), f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, r *Rules, defaultAllow bool, id ident, checks ...check) {
	t.Helper()
	v := viewOf(t, r, defaultAllow, id)
	for _, c := range checks {
		if got := ask(v, c); got != c.want {
			t.Errorf("%+v %s %q: got %v, want %v", id, c.op, c.topic, got, c.want)
		}
	}
}

func TestCP7RuleTypes(t *testing.T) {
	r := parse(t, `
# comment
deny  sub  sensors/secret/#
allow both sensors/#                 user=alice
allow pub  cmd/%c/#                  client=dev-*
allow sub  users/%u/#                user=*
allow pub  lan/#                     addr=10.0.0.0/8
allow sub  lobby/+                   anonymous
allow pub  exact                     client=c1
allow sub  "with space/#"            user="bob smith"
deny  pub  cmd/ops-9/#
allow pub  cmd/#                     client=ops-9
`, FormatAuto)
	if r.Format() != FormatCP7 || r.Len() != 10 {
		t.Fatalf("format %v, %d rules", r.Format(), r.Len())
	}
	run(t, r, false, ident{user: "alice", client: "a1"},
		check{"pub", "sensors/1/temp", true},
		check{"sub", "sensors/+/temp", true},
		check{"sub", "sensors/#", true}, // covered by sensors/#; the deny covers only a part
		check{"recv", "sensors/secret/x", false},
		check{"sub", "sensors/secret/+", false},
		check{"recv", "sensors/open", true},
		check{"pub", "other", false}, // default deny
		check{"sub", "users/alice/inbox", true},
		check{"sub", "users/bob/inbox", false},
		check{"sub", "users/+/inbox", false}, // %u never covers a wildcard
	)
	run(t, r, false, ident{client: "dev-7"},
		check{"pub", "cmd/dev-7/reboot", true},
		check{"pub", "cmd/dev-8/reboot", false},
		check{"sub", "lobby/a", true},
		check{"sub", "lobby/#", false},
		check{"sub", "users/dev-7/x", false}, // user=* needs a user name
	)
	run(t, r, false, ident{client: "ops-9"},
		check{"pub", "cmd/ops-9/x", false}, // first match: the deny comes before the allow
		check{"pub", "cmd/other", true},
	)
	run(t, r, false, ident{user: "x", client: "c1", addr: "10.1.2.3"},
		check{"pub", "lan/a", true},
		check{"pub", "exact", true},
		check{"pub", "exact/not", false},
		check{"sub", "lobby/a", false}, // anonymous only
	)
	run(t, r, false, ident{user: "x", client: "c2", addr: "192.168.1.1"},
		check{"pub", "lan/a", false},
	)
	run(t, r, false, ident{user: "bob smith", client: "b"},
		check{"sub", "with space/x", true},
	)
	// Default allow: what no rule decides is allowed, denies still deny.
	run(t, r, true, ident{user: "zed", client: "z"},
		check{"pub", "anything", true},
		check{"sub", "sensors/secret/a", false},
	)
}

func TestCP7WildcardsAndDollar(t *testing.T) {
	r := parse(t, "allow both #\nallow sub $SYS/broker/+ user=ops\n", FormatCP7)
	run(t, r, false, ident{client: "a"},
		check{"recv", "$SYS/broker/uptime", false}, // '#' does not reach '$' topics [MQTT-4.7.2-1]
		check{"sub", "$SYS/#", false},
		check{"pub", "a/b", true},
		check{"sub", "#", true},
		check{"sub", "+/x", true},
	)
	run(t, r, false, ident{user: "ops", client: "o"},
		check{"recv", "$SYS/broker/uptime", true},
		check{"sub", "$SYS/broker/+", true},
		check{"sub", "$SYS/broker/#", false},
		check{"sub", "$share/g/a/b", true}, // checked as a/b
	)
}

func TestCP7Errors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"allow pub", "too few words"},
		{"permit pub a", "allow or deny"},
		{"allow write a", "pub (publish), sub"},
		{"allow pub a/#/b", "not a valid topic filter"},
		{"allow pub $share/g/a", "shared subscription"},
		{"allow pub a user=", "user= is empty"},
		{"allow pub a addr=10.0.0.0/33", "CIDR"},
		{"allow pub a host=x", "not a condition"},
		{"allow pub a user=x anonymous", "exclude"},
		{"allow pub \"a", "quoted"},
		{"hello", "starts neither format"},
	}
	for _, c := range cases {
		_, err := Parse("bad.acl", []byte("# x\n\n"+c.text+"\n"), FormatAuto)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.acl:3") {
			t.Errorf("%q: error %v, want one naming bad.acl:3 and %q", c.text, err, c.want)
		}
	}
}

// TestMosquittoFormat checks Mosquitto's meaning (src/security_default.c):
// anonymous section first, user sections, deny before grants, patterns
// after the user's own lines, SUBSCRIBE never refused.
func TestMosquittoFormat(t *testing.T) {
	r := parse(t, `# Mosquitto acl_file
topic read $SYS/#
topic public/#

user roger
topic foo/bar
topic read in/#
topic write out/#
topic deny in/secret
user alice
topic readwrite alice/#

pattern readwrite devices/%c/#
pattern write users/%u/out
pattern deny devices/blocked/#
topic read roger2/#
user roger
topic read
`, FormatAuto)
	if r.Format() != FormatMosquitto {
		t.Fatalf("format %v", r.Format())
	}
	run(t, r, false, ident{client: "anon1"},
		check{"recv", "$SYS/broker/uptime", true},
		check{"pub", "$SYS/x", false},
		check{"pub", "public/a", true},
		check{"recv", "public/a", true},
		check{"pub", "foo/bar", false},
		check{"pub", "devices/anon1/x", true}, // patterns apply to everyone
		check{"pub", "users//out", false},     // %u: anonymous never matches
		check{"sub", "anything/#", true},      // SUBSCRIBE is not checked
	)
	run(t, r, false, ident{user: "roger", client: "r1"},
		check{"pub", "foo/bar", true},
		check{"recv", "foo/bar", true},
		check{"recv", "in/x", true},
		check{"pub", "in/x", false},
		check{"recv", "in/secret", false},
		check{"pub", "out/x", true},
		check{"recv", "out/x", false},
		check{"recv", "roger2/x", false}, // that line is in alice's section
		check{"recv", "read", true},      // "topic read" alone is a topic named read
		check{"pub", "public/a", false},  // the anonymous section is not roger's
		check{"pub", "users/roger/out", true},
		check{"recv", "users/roger/out", false},
		check{"pub", "devices/r1/x", true},
	)
	run(t, r, false, ident{user: "bob", client: "blocked"},
		check{"pub", "devices/blocked/x", false}, // pattern deny before pattern grants
		check{"pub", "alice/x", false},
	)
	run(t, r, false, ident{user: "alice", client: "a"},
		check{"pub", "alice/x", true},
		check{"recv", "roger2/x", true}, // a section goes on after the patterns
	)
	// A client id with a wildcard gets no patterns (Mosquitto denies it).
	run(t, r, true, ident{user: "bob", client: "a+b"},
		check{"pub", "devices/a+b/x", false},
		check{"pub", "unrelated", false}, // and no default allow either
	)
}

func TestMosquittoErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"topic writeonly a", "not one of read, write, readwrite or deny"},
		{"user", "user without a name"},
		{"topic read a/#/b", "not a valid topic filter"},
		{"topic", "without a topic"},
	}
	for _, c := range cases {
		_, err := Parse("m.acl", []byte("topic x\n"+c.text+"\n"), FormatMosquitto)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "m.acl:2") {
			t.Errorf("%q: error %v, want one naming m.acl:2 and %q", c.text, err, c.want)
		}
	}
	r := parse(t, "pattern read plain/#\n", FormatMosquitto)
	if len(r.Warnings) != 1 {
		t.Errorf("a pattern without %%c or %%u should warn, warnings %q", r.Warnings)
	}
}

func TestSwapChangesGeneration(t *testing.T) {
	a := New(parse(t, "allow pub a", FormatCP7), false)
	g := a.Generation()
	v := a.ForClient(&server.ClientIdentity{ClientID: "c"})
	if !v.CanPublish([]byte("a")) || v.CanPublish([]byte("b")) {
		t.Fatal("first rules not applied")
	}
	a.Swap(parse(t, "allow pub b", FormatCP7), false)
	if a.Generation() == g {
		t.Fatal("generation did not change")
	}
	v = a.ForClient(&server.ClientIdentity{ClientID: "c"})
	if v.CanPublish([]byte("a")) || !v.CanPublish([]byte("b")) {
		t.Fatal("swapped rules not applied")
	}
}

// TestNoRulesDefaultAllowIsFree: a client no rule selects, under default
// allow, gets no view at all (the broker then checks nothing).
func TestNoRulesDefaultAllowIsFree(t *testing.T) {
	r := parse(t, "allow pub a user=alice\n", FormatCP7)
	if v := viewOf(t, r, true, ident{user: "bob", client: "b"}); v != nil {
		t.Fatalf("want no view, got %T", v)
	}
}

// TestViewsAreShared: clients selecting the same rules share one trie,
// and the rules for everybody are one trie for all.
func TestViewsAreShared(t *testing.T) {
	r := parse(t, "allow pub u/%u/# user=alice\nallow pub x\n", FormatCP7)
	a := New(r, false)
	v1 := a.ForClient(&server.ClientIdentity{ClientID: "1", Username: "alice"}).(*clientView)
	v2 := a.ForClient(&server.ClientIdentity{ClientID: "2", Username: "alice"}).(*clientView)
	if v1.own == nil || v1.own != v2.own {
		t.Fatal("two clients of one user compiled two tries")
	}
	v3 := a.ForClient(&server.ClientIdentity{ClientID: "3", Username: "bob"}).(*clientView)
	if v3.own != nil || v3.shared != v1.shared || v1.shared == nil {
		t.Fatal("the rules for everybody are not one shared trie")
	}
}

// BenchmarkCheck: a publish check against 10,000 rules (one per user, plus
// 10,000 topic rules everyone selects) costs a trie walk, not 10,000
// comparisons.
func BenchmarkCheck(b *testing.B) {
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "allow both devices/dev%d/# user=dev%d\n", i, i)
	}
	for i := range 10000 {
		fmt.Fprintf(&sb, "allow pub fleet/%d/+/status\n", i)
	}
	r, err := Parse("bench", []byte(sb.String()), FormatCP7)
	if err != nil {
		b.Fatal(err)
	}
	v := New(r, false).ForClient(&server.ClientIdentity{ClientID: "c", Username: "dev77"})
	topic := []byte("fleet/9999/x/status")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !v.CanPublish(topic) {
			b.Fatal("denied")
		}
	}
}

// TestTrieAgreesWithRouter compares a one-rule trie with the router's
// string matchers over every filter and topic of a small alphabet.
func TestTrieAgreesWithRouter(t *testing.T) {
	levels := []string{"a", "b", "$s", "+", "#", ""}
	var filters, topics []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		for _, l := range levels {
			f := l
			if depth > 0 {
				f = prefix + "/" + l
			}
			if router.ValidFilter([]byte(f)) {
				filters = append(filters, f)
				if router.ValidTopicName([]byte(f)) {
					topics = append(topics, f)
				}
			}
			if depth < 2 {
				gen(f, depth+1)
			}
		}
	}
	gen("", 0)
	if len(filters) < 150 || len(topics) < 60 {
		t.Fatalf("only %d filters and %d topics", len(filters), len(topics))
	}
	for _, rf := range filters {
		r, err := Parse("p", []byte("allow both "+strconvQuote(rf)+"\n"), FormatCP7)
		if err != nil {
			t.Fatal(err)
		}
		v := New(r, false).ForClient(&server.ClientIdentity{ClientID: "c"})
		for _, tp := range topics {
			if got, want := v.CanReceive([]byte(tp)), router.TopicMatches(rf, tp); got != want {
				t.Fatalf("rule %q topic %q: trie %v, router %v", rf, tp, got, want)
			}
		}
		for _, f := range filters {
			if got, want := v.CanSubscribe([]byte(f)), router.FilterCovers(rf, f); got != want {
				t.Fatalf("rule %q filter %q: trie %v, router %v", rf, f, got, want)
			}
		}
	}
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// TestExamplesLoad keeps deploy/acl's examples valid and checks what they
// promise.
func TestExamplesLoad(t *testing.T) {
	r, err := Load("../../deploy/acl/acl.example", FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	run(t, r, false, ident{user: "dev-7", client: "dev-7"},
		check{"pub", "devices/dev-7/telemetry/t", true},
		check{"pub", "devices/dev-8/telemetry/t", false},
		check{"sub", "devices/dev-7/commands/#", true},
		check{"sub", "inbox/dev-7/x", true},
		check{"recv", "audit/x", false},
	)
	run(t, r, false, ident{user: "dev-00042", client: "dev-00042"},
		check{"pub", "devices/dev-00042/state", false},
	)
	run(t, r, true, ident{user: "ops", client: "o", addr: "10.20.1.1"},
		check{"sub", "$SYS/#", true},
		check{"recv", "audit/x", true},
	)
	run(t, r, true, ident{user: "ops", client: "o", addr: "192.168.1.1"},
		check{"recv", "audit/x", false},
	)
	m, err := Load("../../deploy/acl/mosquitto-acl.example", FormatAuto)
	if err != nil || m.Format() != FormatMosquitto {
		t.Fatalf("mosquitto example: %v, format %v", err, m.Format())
	}
	run(t, m, false, ident{user: "roger", client: "r"},
		check{"recv", "sensors/a", true},
		check{"recv", "sensors/secret/a", false},
		check{"pub", "clients/r/status", true},
	)
}
