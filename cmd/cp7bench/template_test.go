package main

import "testing"

func TestExpand(t *testing.T) {
	cases := []struct{ tmpl, want string }{
		{"bench/%i", "bench/42"},
		{"bench/%c/x", "bench/cli-42/x"},
		{"%i/%c/%i", "42/cli-42/42"},
		{"100%%/%i", "100%/42"},
		{"plain", "plain"},
		{"odd%x%", "odd%x%"},
		{"", ""},
	}
	for _, c := range cases {
		if got := expand(c.tmpl, 42, "cli-42"); got != c.want {
			t.Errorf("expand(%q) = %q, want %q", c.tmpl, got, c.want)
		}
	}
}

func TestTopicMatches(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a/", true},
		{"a/#", "a", true}, // [MQTT-4.7.1-2]
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"+/+", "a/b", true},
		{"+", "a/b", false},
		{"a", "a/b", false},
		{"a/b/c", "a/b", false},
		{"#", "$SYS/x", false},   // [MQTT-4.7.2-1]
		{"+/x", "$SYS/x", false}, // [MQTT-4.7.2-1]
		{"$SYS/#", "$SYS/x", true},
		{"bench/in/+", "bench/in/3", true},
	}
	for _, c := range cases {
		if got := topicMatches(c.filter, c.topic); got != c.want {
			t.Errorf("topicMatches(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestFanOut(t *testing.T) {
	fs := []string{"a/b", "a/+", "#", "x/y", "$share/g/a/b", "$share/g/a/+", "$share/h/a/b", "$queue/a/b"}
	// plain: a/b, a/+, # = 3; share g/a/b, g/a/+ (distinct filters) = 2; h = 1; queue = 1.
	if got := fanOut("a/b", fs); got != 7 {
		t.Errorf("fanOut(a/b) = %d, want 7", got)
	}
	if got := fanOut("x/y", fs); got != 2 {
		t.Errorf("fanOut(x/y) = %d, want 2", got)
	}
	subs := make([]string, 1000)
	for i := range subs {
		subs[i] = "bench/out"
	}
	if got := fanOut("bench/out", subs); got != 1000 {
		t.Errorf("fan-out of 1000 = %d", got)
	}
}
