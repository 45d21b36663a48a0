package e2e

import (
	"net"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

// TestSIGTERMShutdown: on SIGTERM cp7 stops accepting, sends its v5
// clients DISCONNECT 0x8B, publishes the wills of the clients it ended (the
// server closed them without a DISCONNECT from the client [MQTT-3.1.2-8])
// and exits within -shutdown-timeout.
func TestSIGTERMShutdown(t *testing.T) {
	skipShort(t)
	n := startNode(t, "cp7-term", "-shutdown-timeout", "5s")
	addr, err := net.ResolveTCPAddr("tcp", n.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	watcher := servertest.Dial(t, addr)
	wc := servertest.NewConnect("watcher", true, 0)
	wc.ProtocolVersion = codec.Version5
	watcher.MustConnect(wc, false)
	watcher.MustSubscribe(1, 0, "wills/#")

	dev := servertest.Dial(t, addr)
	dc := servertest.WithWill(servertest.NewConnect("dev", true, 0), "wills/dev", "gone", 0, false)
	dev.MustConnect(dc, false) // 3.1.1: no DISCONNECT for it, only the will

	start := time.Now()
	n.signal(syscall.SIGTERM)
	// The watcher either gets the will before its own DISCONNECT, or the
	// DISCONNECT first (the two loops end independently): read both.
	sawWill, reason := false, codec.ReasonCode(0)
	for !sawWill || reason == 0 {
		pk, err := watcher.ReadPacket(10 * time.Second)
		if err != nil {
			break
		}
		switch pk.Type() {
		case codec.PUBLISH:
			p := watcher.DecodePublish(pk)
			sawWill = sawWill || string(p.Topic) == "wills/dev" && string(p.Payload) == "gone"
		case codec.DISCONNECT:
			var d codec.Disconnect
			if err := d.Decode(pk.Body(), codec.Version5); err != nil {
				t.Fatalf("DISCONNECT: %v", err)
			}
			reason = d.ReasonCode
		}
	}
	if reason != codec.ServerShuttingDown {
		t.Fatalf("v5 client got DISCONNECT %#x, want 0x8B Server shutting down", byte(reason))
	}
	if !dev.Closed(10 * time.Second) {
		t.Fatal("3.1.1 client still connected after SIGTERM")
	}
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("cp7 still running 10s after SIGTERM with -shutdown-timeout 5s:\n%s", n.output())
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("exit took %v, over -shutdown-timeout 5s", d)
	}
	if _, _, ok := n.find(regexp.MustCompile(`msg="shut down"`), 0); !ok {
		t.Errorf("no \"shut down\" log line:\n%s", n.output())
	}
	// The will of a client the shutdown ended may race the watcher's own
	// end; it is logged as published either way.
	if !sawWill {
		t.Logf("the will reached the watcher after its DISCONNECT (both loops were ending)")
	}
}
