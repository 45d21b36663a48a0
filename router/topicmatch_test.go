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
