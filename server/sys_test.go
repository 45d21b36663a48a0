package server_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestSysTopicsMatchAKnownWorkload: with -sys-interval 1s, a subscriber to
// $SYS/broker/# sees Mosquitto's topics, retained, with the values of a
// known workload.
func TestSysTopicsMatchAKnownWorkload(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) { c.SysInterval = time.Second })
	pub := servertest.DialConnect(t, srv.Addr(), "pub", true, false)
	sink := servertest.DialConnect(t, srv.Addr(), "sink", true, false)
	sink.MustSubscribe(1, 0, "load/#")
	for range 7 {
		pub.Publish("load/x", "1234", 0, false, 0)
	}
	pub.Publish("load/keep", "r", 0, true, 0)
	for range 7 {
		sink.ExpectMessage("load/x", "1234", 0, false)
	}
	sink.ExpectMessage("load/keep", "r", 0, false)

	want := map[string]string{
		"clients/connected":           "3", // pub, sink and the reader below
		"clients/total":               "3",
		"clients/disconnected":        "0",
		"messages/received":           "8",
		"messages/sent":               "", // 8 plus the $SYS messages sent to the reader
		"subscriptions/count":         "2",
		"retained messages/count":     "", // checked below: includes $SYS's own
		"publish/messages/dropped":    "0",
		"version":                     server.Version,
		"uptime":                      "",
		"bytes/received":              "",
		"load/messages/received/1min": "",
	}
	rd := servertest.DialConnect(t, srv.Addr(), "reader", true, false)
	rd.MustSubscribe(1, 0, "$SYS/broker/#")
	got := map[string]string{}
	deadline := time.Now().Add(3 * servertest.Timeout)
	// Read until one publication after the workload shows every value
	// (the first, retained, ones may predate the reader's connection).
	for time.Now().Before(deadline) {
		pk, err := rd.ReadPacket(servertest.Timeout)
		if err != nil {
			t.Fatalf("no $SYS message: %v (have %v)", err, got)
		}
		if pk.Type() != codec.PUBLISH {
			continue
		}
		p := rd.DecodePublish(pk)
		topic := strings.TrimPrefix(string(p.Topic), "$SYS/broker/")
		if topic == "version" {
			got = map[string]string{} // a new snapshot starts
		}
		got[topic] = string(p.Payload)
		if topic == "load/connections/15min" && got["clients/connected"] == "3" && got["subscriptions/count"] == "2" && got["messages/received"] == "8" {
			break // a whole snapshot taken after the workload
		}
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("$SYS/broker/%s never published", k)
			continue
		}
		if v != "" && g != v {
			t.Errorf("$SYS/broker/%s = %q, want %q", k, g, v)
		}
	}
	if n, err := strconv.Atoi(got["retained messages/count"]); err != nil || n < 2 {
		t.Errorf("retained messages/count %q: want load/keep plus the $SYS topics", got["retained messages/count"])
	}
	if n, err := strconv.Atoi(got["messages/sent"]); err != nil || n < 8 {
		t.Errorf("messages/sent %q: want at least 8", got["messages/sent"])
	}
	if !strings.HasSuffix(got["uptime"], " seconds") {
		t.Errorf("uptime %q, want \"N seconds\" as Mosquitto", got["uptime"])
	}
	// Retained: a late subscriber sees them at once.
	late := servertest.DialConnect(t, srv.Addr(), "late", true, false)
	late.MustSubscribe(1, 0, "$SYS/broker/version")
	if p := late.ExpectPublish(); string(p.Payload) != server.Version || !p.Retain {
		t.Fatalf("late subscriber got %q retain=%v, want the retained version", p.Payload, p.Retain)
	}
}
