package router

import "testing"

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
		if got := TopicMatches(c.filter, c.topic); got != c.want {
			t.Errorf("TopicMatches(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestFilterCovers(t *testing.T) {
	cases := []struct {
		outer, inner string
		want         bool
	}{
		{"#", "#", true},
		{"#", "a/b", true},
		{"#", "+/+", true},
		{"#", "$SYS/x", false}, // [MQTT-4.7.2-1]
		{"$SYS/#", "$SYS/x/#", true},
		{"+", "$SYS", false},
		{"a/#", "a", true},
		{"a/#", "a/+/b", true},
		{"a/#", "a/#", true},
		{"a/+", "a/#", false},
		{"a/+", "a/+", true},
		{"a/+", "a/b", true},
		{"a/b", "a/+", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/c/d", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+/#", "a", false},
		{"a/+/#", "a/b", true},
		{"+/+", "+/#", false},
	}
	for _, c := range cases {
		if got := FilterCovers(c.outer, c.inner); got != c.want {
			t.Errorf("FilterCovers(%q, %q) = %v, want %v", c.outer, c.inner, got, c.want)
		}
	}
}
