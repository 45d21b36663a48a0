package router

import (
	"strings"
	"testing"
)

func TestValidTopicName(t *testing.T) {
	cases := []struct {
		topic string
		want  bool
	}{
		{"a", true},
		{"a/b/c", true},
		{"/", true},
		{"a//b", true},
		{"/a", true},
		{"a/", true},
		{"$SYS/broker", true},
		{" ", true},
		{"", false},       // [MQTT-4.7.3-1]
		{"a/+", false},    // [MQTT-3.3.2-2]
		{"a/#", false},    // [MQTT-3.3.2-2]
		{"+", false},      // [MQTT-3.3.2-2]
		{"a+b", false},    // wildcard inside a level is still a wildcard character
		{"a\x00b", false}, // [MQTT-4.7.3-2]
		{strings.Repeat("a", 65535), true},
		{strings.Repeat("a", 65536), false}, // [MQTT-4.7.3-3]
	}
	for _, c := range cases {
		if got := ValidTopicName([]byte(c.topic)); got != c.want {
			t.Errorf("ValidTopicName(%.20q) = %v, want %v", c.topic, got, c.want)
		}
	}
}

func TestValidFilter(t *testing.T) {
	cases := []struct {
		filter string
		want   bool
	}{
		{"a", true},
		{"a/b", true},
		{"#", true},
		{"+", true},
		{"+/+", true},
		{"a/#", true},
		{"a/+/b", true},
		{"+/#", true},
		{"/#", true},
		{"a//b", true},
		{"/", true},
		{"$SYS/#", true},
		{"", false},       // [MQTT-4.7.3-1]
		{"a/#/b", false},  // '#' must be last [MQTT-4.7.1-2]
		{"a#", false},     // '#' must be alone in its level [MQTT-4.7.1-2]
		{"a/b#", false},   // [MQTT-4.7.1-2]
		{"#/", false},     // [MQTT-4.7.1-2]
		{"##", false},     // [MQTT-4.7.1-2]
		{"a+", false},     // '+' must fill its level [MQTT-4.7.1-3]
		{"+a", false},     // [MQTT-4.7.1-3]
		{"a/+b/c", false}, // [MQTT-4.7.1-3]
		{"++", false},     // [MQTT-4.7.1-3]
		{"a\x00", false},  // [MQTT-4.7.3-2]
		{"$share/g/a/+", true},
		{"$share/g/#", true},
		{"$share/g//", true},
		{"$share/$g/x", true},
		{"$share//a", false},      // empty group [MQTT-4.8.2-1]
		{"$share/g", false},       // no '/' after the group [MQTT-4.8.2-2]
		{"$share/g/", false},      // no filter after the group [MQTT-4.8.2-2]
		{"$share/", false},        // [MQTT-4.8.2-1]
		{"$share/g+/a", false},    // [MQTT-4.8.2-2]
		{"$share/+/a", false},     // [MQTT-4.8.2-2]
		{"$share/#/a", false},     // [MQTT-4.8.2-2]
		{"$share/g/a#", false},    // the inner filter is checked too
		{"$share/g/a/#/b", false}, // idem
		{"$share", true},          // a plain filter on a '$' topic
		{"$sharex/a", true},       // idem
		{"$queue/a/+", true},
		{"$queue/#", true},
		{"$queue/", false},
		{"$queue/a+", false},
		{"$queue", true},
		{strings.Repeat("a", 65535), true},
		{strings.Repeat("a", 65536), false}, // [MQTT-4.7.3-3]
	}
	for _, c := range cases {
		if got := ValidFilter([]byte(c.filter)); got != c.want {
			t.Errorf("ValidFilter(%.20q) = %v, want %v", c.filter, got, c.want)
		}
	}
}

func TestParseShared(t *testing.T) {
	cases := []struct {
		in            string
		group, filter string
		shared        bool
	}{
		{"$share/g/a/b", "g", "a/b", true},
		{"$share/g/#", "g", "#", true},
		{"$share/group-1/+/x", "group-1", "+/x", true},
		{"$share/$queue/a", "$queue", "a", true},
		{"$queue/a/b", "$queue", "a/b", true},
		{"$queue/#", "$queue", "#", true},
		{"a/b", "", "a/b", false},
		{"$share", "", "$share", false},
		{"$share/g", "", "$share/g", false}, // malformed: not shared (ValidFilter rejects it)
		{"$SYS/#", "", "$SYS/#", false},
		{"$queue", "", "$queue", false},
		{"share/g/a", "", "share/g/a", false},
	}
	for _, c := range cases {
		g, f, s := ParseShared([]byte(c.in))
		if string(g) != c.group || string(f) != c.filter || s != c.shared {
			t.Errorf("ParseShared(%q) = (%q, %q, %v), want (%q, %q, %v)", c.in, g, f, s, c.group, c.filter, c.shared)
		}
		gs, fs, ss := parseSharedString(c.in)
		if gs != c.group || fs != c.filter || ss != c.shared {
			t.Errorf("parseSharedString(%q) = (%q, %q, %v), want (%q, %q, %v)", c.in, gs, fs, ss, c.group, c.filter, c.shared)
		}
	}
}

func TestSplitLevels(t *testing.T) {
	cases := []struct {
		topic string
		want  []string
	}{
		{"a", []string{"a"}},
		{"a/b/c", []string{"a", "b", "c"}},
		{"a//b", []string{"a", "", "b"}},
		{"/a", []string{"", "a"}},
		{"a/", []string{"a", ""}},
		{"/", []string{"", ""}},
		{"//", []string{"", "", ""}},
	}
	for _, c := range cases {
		var buf [stackLevels]uint16
		ends := splitLevels([]byte(c.topic), buf[:0])
		var got []string
		for i := range ends {
			got = append(got, string(levelAt([]byte(c.topic), ends, i)))
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("levels of %q = %q, want %q", c.topic, got, c.want)
		}
	}
	// More levels than the stack array: still split correctly.
	deep := strings.Repeat("x/", 100) + "end"
	var buf [stackLevels]uint16
	ends := splitLevels([]byte(deep), buf[:0])
	if len(ends) != 101 || string(levelAt([]byte(deep), ends, 100)) != "end" {
		t.Fatalf("deep topic: %d levels, last %q", len(ends), levelAt([]byte(deep), ends, len(ends)-1))
	}
}
