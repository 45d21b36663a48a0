package server_test

import (
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

// TestWill checks when the Last Will goes out [MQTT-3.1.2-8]: on keepalive
// timeout, on a socket closed without DISCONNECT, on a protocol error and on
// a take-over, with its QoS and retain flag [MQTT-3.1.2-14..17]; and that it
// does not after DISCONNECT [MQTT-3.1.2-10, 3.14.4-3].
func TestWill(t *testing.T) {
	t.Parallel()
	triggers := []struct {
		name      string
		keepAlive uint16
		trigger   func(t *testing.T, c *servertest.Conn, dial func() *servertest.Conn)
		sent      bool
	}{
		{"keepalive timeout", 1, func(t *testing.T, c *servertest.Conn, _ func() *servertest.Conn) {
			c.ExpectClosed(wait) // silent: closed after 1.5 x keepalive
		}, true},
		{"socket closed without DISCONNECT", 0, func(t *testing.T, c *servertest.Conn, _ func() *servertest.Conn) {
			c.Close()
		}, true},
		{"protocol error", 0, func(t *testing.T, c *servertest.Conn, _ func() *servertest.Conn) {
			c.Write([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F})
			c.ExpectClosed(wait)
		}, true},
		{"take-over", 0, func(t *testing.T, c *servertest.Conn, dial func() *servertest.Conn) {
			d := dial()
			d.MustConnect(servertest.NewConnect("will-client", true, 0), false)
			c.ExpectClosed(wait)
		}, true},
		{"DISCONNECT", 0, func(t *testing.T, c *servertest.Conn, _ func() *servertest.Conn) {
			c.Disconnect()
		}, false},
	}
	for _, tc := range triggers {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, nil)
			watcher := servertest.DialConnect(t, srv.Addr(), "will-watcher", true, false)
			watcher.MustSubscribe(1, 2, "will/#")

			c := servertest.Dial(t, srv.Addr())
			c.MustConnect(servertest.WithWill(servertest.NewConnect("will-client", true, tc.keepAlive), "will/topic", "gone", 1, true), false)
			c.Ping()
			tc.trigger(t, c, func() *servertest.Conn { return servertest.Dial(t, srv.Addr()) })

			if !tc.sent {
				// The client's session ends after its will would have been
				// published; then a fence on the same topic proves none was.
				servertest.Eventually(t, wait, func() bool { return srv.Stats().Sessions == 1 }, "the client's session to end")
				pub := servertest.DialConnect(t, srv.Addr(), "will-pub", true, false)
				pub.PublishAcked("will/topic", "fence", 0, false, 0)
				watcher.ExpectMessage("will/topic", "fence", 0, false)
				if st := srv.Stats(); st.WillsSent != 0 || st.Retained != 0 {
					t.Fatalf("after DISCONNECT: WillsSent %d, Retained %d; want 0 and 0", st.WillsSent, st.Retained)
				}
				return
			}
			// An existing subscriber gets it at the will QoS, retain 0.
			m := watcher.ExpectMessage("will/topic", "gone", 1, false)
			watcher.SendAck(codec.PUBACK, m.PacketID)
			if n := srv.Stats().WillsSent; n != 1 {
				t.Fatalf("Stats().WillsSent = %d, want 1", n)
			}
			// The will was retained: a new subscriber gets it with retain 1.
			late := servertest.DialConnect(t, srv.Addr(), "will-late", true, false)
			late.MustSubscribe(1, 2, "will/topic")
			m = late.ExpectMessage("will/topic", "gone", 1, true)
			late.SendAck(codec.PUBACK, m.PacketID)
			watcher.Ping() // exactly one copy
		})
	}
}
