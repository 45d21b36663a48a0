package main

import (
	"strings"
	"testing"
)

func clusterGroup(t *testing.T, o *options) *clusterFlags {
	t.Helper()
	for _, g := range o.groups {
		if c, ok := g.(*clusterFlags); ok {
			return c
		}
	}
	t.Fatal("no cluster flag group registered")
	return nil
}

func TestClusterFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := clusterGroup(t, o); c.cfg.Enabled() {
		t.Fatalf("no flags: cluster enabled (%+v); a single node must start no NATS", c.cfg)
	}
	o, err = parseFlags([]string{"-node-name", "a", "-cluster-routes", "nats-route://10.0.0.1:6222, nats-route://10.0.0.2:6222"})
	if err != nil {
		t.Fatal(err)
	}
	c := clusterGroup(t, o)
	if !c.cfg.Enabled() || c.cfg.NodeName != "a" || len(c.cfg.Routes) != 2 || c.cfg.Listen != "0.0.0.0:6222" {
		t.Fatalf("cluster config %+v: want node a, two routes, the default route port", c.cfg)
	}
	for _, bad := range [][]string{
		{"-cluster-routes", "10.0.0.1:6222"},
		{"-nats-url", "nats://127.0.0.1:4222", "-cluster-listen", "127.0.0.1:6222"},
	} {
		if _, err := parseFlags(bad); err == nil || !strings.Contains(err.Error(), "-") {
			t.Errorf("parseFlags(%q) = %v, want an error naming the flag", bad, err)
		}
	}
}
