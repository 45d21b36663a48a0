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
