package server_test

import (
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// TestKeepAliveTimeout checks that a client silent for more than 1.5 times
// its keepalive is closed [MQTT-3.1.2-24], its will sent, the event logged
// with its client id and counted.
func TestKeepAliveTimeout(t *testing.T) {
	t.Parallel()
	srv, log := servertest.StartLogged(t, nil)
	watcher := servertest.DialConnect(t, srv.Addr(), "ka-watcher", true, false)
	watcher.MustSubscribe(1, 1, "ka/will")

	c := servertest.Dial(t, srv.Addr())
	c.MustConnect(servertest.WithWill(servertest.NewConnect("ka-silent", true, 1), "ka/will", "timed out", 1, false), false)
	start := time.Now()
	if got := c.ExpectClosed(wait); len(got) > 0 {
		t.Fatalf("packets to a silent 3.1.1 client before its close: %v", got)
	}
	t.Logf("silent client closed after %v", time.Since(start).Round(time.Millisecond))
	m := watcher.ExpectMessage("ka/will", "timed out", 1, false)
	watcher.SendAck(codec.PUBACK, m.PacketID)
	log.WaitFor(t, wait, `msg="closing connection"`, "client_id=ka-silent", "keepalive timeout")
	if st := srv.Stats(); st.KeepAliveTimeouts != 1 || st.WillsSent != 1 {
		t.Fatalf("KeepAliveTimeouts %d, WillsSent %d; want 1 and 1", st.KeepAliveTimeouts, st.WillsSent)
	}
	watcher.Ping() // the watcher, which has no keepalive, is still connected
}

// TestKeepAlivePing checks that PINGREQ gets PINGRESP [MQTT-3.12.4-1] and
// that a client with keepalive 1 that pings every half second stays
// connected well past 1.5 times its keepalive.
func TestKeepAlivePing(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	c := servertest.Dial(t, srv.Addr())
	c.MustConnect(servertest.NewConnect("ka-pinger", true, 1), false)
	const pings, every = 8, 500 * time.Millisecond // 4 s in all
	tick := time.NewTicker(every)
	defer tick.Stop()
	start := time.Now()
	for range pings {
		<-tick.C // the client's own keepalive schedule, not a wait for the broker
		c.Ping()
	}
	t.Logf("still connected after %v of pings", time.Since(start).Round(time.Millisecond))
	if n := srv.Stats().KeepAliveTimeouts; n != 0 {
		t.Fatalf("Stats().KeepAliveTimeouts = %d, want 0", n)
	}
	// Any packet counts as activity [MQTT-3.1.2-23], not only PINGREQ.
	c.MustSubscribe(1, 0, "ka/any")
}

// TestKeepAliveMaximum checks MaxKeepAlive for 3.1.1, which cannot tell the
// client a lower keepalive: a longer one (or 0, "never") is refused with
// CONNACK 0x02; one within the maximum is accepted.
func TestKeepAliveMaximum(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxKeepAlive = 5 })
	for _, tc := range []struct {
		keepAlive uint16
		want      byte
	}{{6, codec.ConnRefusedIdentifierRejected}, {65535, codec.ConnRefusedIdentifierRejected},
		{0, codec.ConnRefusedIdentifierRejected}, {5, codec.ConnAccepted}, {1, codec.ConnAccepted}} {
		c := servertest.Dial(t, srv.Addr())
		ack := c.Connect(servertest.NewConnect("ka-max", true, tc.keepAlive))
		if byte(ack.ReasonCode) != tc.want {
			t.Fatalf("keepalive %d with maximum 5: return code %d, want %d", tc.keepAlive, ack.ReasonCode, tc.want)
		}
		if tc.want != codec.ConnAccepted {
			c.ExpectClosed(wait)
			continue
		}
		c.Ping()
		c.Disconnect()
	}
}
