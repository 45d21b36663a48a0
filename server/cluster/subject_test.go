package cluster

import (
	"slices"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/cp7/cp7/router"
)

func TestSubjectEscaping(t *testing.T) {
	cases := []struct{ topic, subject string }{
		{"a", "cp7.m.a"},
		{"a/b/c", "cp7.m.a.b.c"},
		{"a.b", "cp7.m.a~2Eb"},     // NATS's token separator
		{"a*/>", "cp7.m.a~2A.~3E"}, // NATS's wildcards as literal text
		{"sp ace\ttab", "cp7.m.sp~20ace~09tab"},
		{"/", "cp7.m.~.~"}, // empty levels
		{"a//b/", "cp7.m.a.~.b.~"},
		{"~", "cp7.m.~7E"},           // the escape itself
		{"$SYS/x", "cp7.d.~24SYS.x"}, // '$' topics under their own prefix
		{"a$", "cp7.m.a~24"},
		{"温度/室内", "cp7.m.温度.室内"}, // UTF-8 passes as is
		{"dev-1_x/Y9", "cp7.m.dev-1_x.Y9"},
		{"a\x7fb", "cp7.m.a~7Fb"},
	}
	for _, c := range cases {
		got := Subject(c.topic)
		if got != c.subject {
			t.Errorf("Subject(%q) = %q, want %q", c.topic, got, c.subject)
		}
		if !natsserver.IsValidLiteralSubject(got) {
			t.Errorf("Subject(%q) = %q is not a valid literal NATS subject", c.topic, got)
		}
		back, ok := Unescape(got)
		if !ok || back != c.topic {
			t.Errorf("Unescape(%q) = %q, %v; want %q", got, back, ok, c.topic)
		}
	}
	filters := []struct {
		filter   string
		subjects []string
	}{
		{"#", []string{"cp7.m.>"}},
		{"+", []string{"cp7.m.*"}},
		{"a/#", []string{"cp7.m.a", "cp7.m.a.>"}},
		{"a/+/c", []string{"cp7.m.a.*.c"}},
		{"+/+/#", []string{"cp7.m.*.*", "cp7.m.*.*.>"}},
		{"$SYS/#", []string{"cp7.d.~24SYS", "cp7.d.~24SYS.>"}},
		{"a.b/*", []string{"cp7.m.a~2Eb.~2A"}},
		{"/+", []string{"cp7.m.~.*"}},
	}
	for _, f := range filters {
		got := FilterSubjects(f.filter)
		if !slices.Equal(got, f.subjects) {
			t.Errorf("FilterSubjects(%q) = %q, want %q", f.filter, got, f.subjects)
		}
		for _, s := range got {
			if !natsserver.IsValidSubject(s) {
				t.Errorf("FilterSubjects(%q): %q is not a valid NATS subject", f.filter, s)
			}
		}
	}
	for _, bad := range []string{"x.a", "cp7.m.a~2", "cp7.m.a~zz", "cp7.m.a b", "cp7.m.~24x", "cp7.d.x"} {
		if got, ok := Unescape(bad); ok {
			t.Errorf("Unescape(%q) = %q, ok; want refused", bad, got)
		}
	}
}

// TestSubjectsMatchLikeMQTT checks that NATS's subject matching over the
// mapped subjects agrees with MQTT's filter matching (router.TopicMatches)
// for every pair of a set of topics and filters with the awkward cases:
// '$' topics, empty levels, parent-level '#', reserved characters.
func TestSubjectsMatchLikeMQTT(t *testing.T) {
	topics := []string{"a", "a/b", "a/b/c", "/", "/a", "a/", "a//b", "$SYS", "$SYS/x", "$x/a",
		"a.b", "a.b/c", "*", ">", "a b/c", "~", "b", "a/$x"}
	filters := []string{"#", "+", "+/+", "a/#", "a/+", "a/+/c", "+/b", "/#", "/+", "+/", "a//b", "$SYS/#",
		"$SYS/+", "+/#", "a.b/#", "*", ">", "a b/+", "~", "a/$x", "$x/#", "#/"[:1], "a"}
	for _, f := range filters {
		if !router.ValidFilter([]byte(f)) {
			t.Fatalf("bad test filter %q", f)
		}
		for _, topic := range topics {
			want := router.TopicMatches(f, topic)
			got := false
			for _, s := range FilterSubjects(f) {
				if natsserver.SubjectMatchesFilter(Subject(topic), s) {
					got = true
				}
			}
			if got != want {
				t.Errorf("filter %q topic %q: NATS subjects %q ~ %q match %v, MQTT says %v",
					f, topic, FilterSubjects(f), Subject(topic), got, want)
			}
		}
	}
}
