package main

import (
	"io"
	"testing"
)

// TestSnapshotWhileConnecting reads the node's counters while its connect
// phase is starting, as the coordinator does: under -race this fails if
// anything snapshot reads is written by connectAll without synchronisation.
// (CI caught expectKnown being set inside connectAll.)
func TestSnapshotWhileConnecting(t *testing.T) {
	b := startFakeBroker(t, 0)
	cfg, err := parseConfig([]string{"pubsub", "-p", b.port(), "-pubs", "1", "-subs", "2",
		"-t", "bench/%i", "-ft", "bench/+", "-q", "0", "-r", "10", "-duration", "10ms"})
	if err != nil {
		t.Fatal(err)
	}
	parts := splitParts(cfg.subs, cfg.pubs, 1, cfg.limit)
	for range 20 {
		n := newNode(cfg, parts[0], io.Discard)
		n.start()
		s := n.snapshot()
		if s.Expected < 0 {
			t.Fatalf("expected deliveries unknown (%d) for a small pubsub run", s.Expected)
		}
		n.stop()
	}
}
