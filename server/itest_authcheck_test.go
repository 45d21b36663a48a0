package server_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// gatedAuth is a slow authenticator: users named "slow..." block until the
// gate opens, everyone else passes at once. It counts the slow checks that
// have started and that have ended.
type gatedAuth struct {
	gate             chan struct{}
	started, waiting atomic.Int64
	once             sync.Once
}

func newGatedAuth() *gatedAuth { return &gatedAuth{gate: make(chan struct{})} }

// startGated starts a broker checking with g, whose gate opens at the
// latest when the test ends, before the broker's Close (cleanups run last
// in, first out), so a failed test does not leave Close behind stuck checks.
func startGated(t *testing.T, g *gatedAuth, configure func(*server.Config)) *server.Server {
	srv := servertest.Start(t, func(c *server.Config) {
		c.Auth = g
		configure(c)
	})
	t.Cleanup(g.open)
	return srv
}

func (g *gatedAuth) open() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedAuth) Authenticate(i *server.ConnInfo) codec.ReasonCode {
	if len(i.Username) >= 4 && string(i.Username[:4]) == "slow" {
		g.started.Add(1)
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
		<-g.gate
		if string(i.Password) != "pw-"+string(i.Username) {
			return codec.BadUserNameOrPassword
		}
	}
	return codec.Success
}

func withUser(p *codec.Connect, user, pass string) *codec.Connect {
	p.UsernameFlag, p.Username = true, []byte(user)
	p.PasswordFlag, p.Password = true, []byte(pass)
	return p
}

// TestSlowAuthDoesNotStallTheLoop is the point of the auth worker pool: on
// a broker with ONE event loop, a storm of CONNECTs whose checks are stuck
// (every worker busy, more queued) must not stop the publishes of clients
// already connected to that loop. The messages arrive while the slow checks
// are still pending (an ordering, not a timing, assertion); then the gate
// opens and every stormer gets its CONNACK, with the packets it sent behind
// CONNECT handled after it.
func TestSlowAuthDoesNotStallTheLoop(t *testing.T) {
	t.Parallel()
	g := newGatedAuth()
	const workers, storm = 2, 12
	srv := startGated(t, g, func(c *server.Config) {
		c.EventLoops = 1
		c.AuthWorkers = workers
	})
	sub := servertest.DialConnect(t, srv.Addr(), "storm-sub", true, false)
	sub.MustSubscribe(1, 0, "storm/live")
	pub := servertest.DialConnect(t, srv.Addr(), "storm-pub", true, false)

	stormers := make([]*servertest.Conn, storm)
	for i := range stormers {
		c := servertest.Dial(t, srv.Addr())
		user := fmt.Sprintf("slow%d", i)
		pass := "pw-" + user
		if i == 0 {
			pass = "wrong"
		}
		// CONNECT, then a SUBSCRIBE and a PINGREQ in the same write: they
		// must wait in the connection's buffer for the check's answer.
		b := codec.AppendConnect(nil, withUser(servertest.NewConnect(fmt.Sprintf("storm-%d", i), true, 30), user, pass))
		b = codec.AppendSubscribe(b, &codec.Subscribe{PacketID: 7, Subs: []codec.Subscription{{Filter: []byte("storm/live")}}}, codec.Version311)
		b = codec.AppendPingreq(b)
		c.Write(b)
		stormers[i] = c
	}
	servertest.Eventually(t, wait, func() bool {
		return g.waiting.Load() == workers && srv.Stats().AuthPending == storm
	}, "every worker stuck in a slow check and the rest of the storm queued")

	// The loop is free: an unrelated stream flows while the storm waits.
	for i := range 50 {
		pub.Publish("storm/live", fmt.Sprint(i), 0, false, 0)
	}
	for i := range 50 {
		sub.ExpectMessage("storm/live", fmt.Sprint(i), 0, false)
	}
	sub.Ping()
	if n := g.waiting.Load(); n != workers || srv.Stats().AuthPending != storm {
		t.Fatalf("slow checks finished before the gate opened: waiting %d, pending %d", n, srv.Stats().AuthPending)
	}
	// No stormer got anything yet: its CONNECT is still being checked.
	for i, c := range stormers {
		if _, err := c.ReadPacket(10e6); err != servertest.ErrTimeout {
			t.Fatalf("stormer %d got a packet (or error %v) before its check ended", i, err)
		}
	}

	g.open()
	if ack := stormers[0].ExpectConnack(); ack.ReasonCode != codec.ReasonCode(codec.ConnRefusedBadUsernamePassword) {
		t.Fatalf("wrong password: CONNACK %v, want 0x04 bad user name or password", ack.ReasonCode)
	}
	stormers[0].ExpectClosed(wait)
	for i, c := range stormers[1:] {
		if ack := c.ExpectConnack(); ack.ReasonCode != codec.Success {
			t.Fatalf("stormer %d: CONNACK %v", i+1, ack.ReasonCode)
		}
		c.Expect(codec.SUBACK) // sent behind CONNECT, handled after the answer
		c.Expect(codec.PINGRESP)
	}
	if got := g.started.Load(); got != storm {
		t.Fatalf("%d slow checks ran, want %d", got, storm)
	}
	servertest.Eventually(t, wait, func() bool { return srv.Stats().AuthPending == 0 }, "no check pending")
}

// TestAuthQueueFullIsServerBusy: with the one worker stuck and the queue
// full, the next CONNECT is refused at once with Server busy (v5 0x89,
// 3.1.1 0x03 Server unavailable) and counted; the queued ones still get
// their answer once the worker is free.
func TestAuthQueueFullIsServerBusy(t *testing.T) {
	t.Parallel()
	g := newGatedAuth()
	srv := startGated(t, g, func(c *server.Config) { c.AuthWorkers, c.AuthQueue = 1, 1 })
	first := servertest.Dial(t, srv.Addr())
	first.Write(codec.AppendConnect(nil, withUser(servertest.NewConnect("busy-1", true, 30), "slow1", "pw-slow1")))
	servertest.Eventually(t, wait, func() bool { return g.waiting.Load() == 1 }, "the worker holds the first check")
	second := servertest.Dial(t, srv.Addr())
	second.Write(codec.AppendConnect(nil, withUser(servertest.NewConnect("busy-2", true, 30), "slow2", "pw-slow2")))
	servertest.Eventually(t, wait, func() bool { return srv.Stats().AuthPending == 2 }, "the second check queued")

	v3 := servertest.Dial(t, srv.Addr())
	if ack := v3.Connect(withUser(servertest.NewConnect("busy-3", true, 30), "slow3", "x")); ack.ReasonCode != codec.ReasonCode(codec.ConnRefusedServerUnavailable) {
		t.Fatalf("3.1.1 CONNACK %v with the auth queue full, want 0x03 server unavailable", ack.ReasonCode)
	}
	v3.ExpectClosed(wait)
	v5 := servertest.Dial(t, srv.Addr())
	v5.Version = codec.Version5
	if ack := v5.Connect(withUser(v5ConnectPacket("busy-5", true, 0), "slow5", "x")); ack.ReasonCode != codec.ServerBusy {
		t.Fatalf("v5 CONNACK %v with the auth queue full, want ServerBusy 0x89", ack.ReasonCode)
	}
	v5.ExpectClosed(wait)
	if n := srv.Stats().AuthBusy; n != 2 {
		t.Fatalf("Stats.AuthBusy = %d, want 2", n)
	}
	g.open()
	for _, c := range []*servertest.Conn{first, second} {
		if ack := c.ExpectConnack(); ack.ReasonCode != codec.Success {
			t.Fatalf("queued CONNECT: CONNACK %v", ack.ReasonCode)
		}
	}
}

// TestAuthAnswerAfterCloseIsIgnored: a client that hangs up while its
// check runs leaves no session behind when the answer comes.
func TestAuthAnswerAfterCloseIsIgnored(t *testing.T) {
	t.Parallel()
	g := newGatedAuth()
	srv := startGated(t, g, func(*server.Config) {})
	c := servertest.Dial(t, srv.Addr())
	c.Write(codec.AppendConnect(nil, withUser(servertest.NewConnect("gone-early", false, 30), "slow1", "pw-slow1")))
	servertest.Eventually(t, wait, func() bool { return g.waiting.Load() == 1 }, "the check started")
	c.Close()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 0 }, "the connection closed")
	g.open()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().AuthPending == 0 }, "the answer arrived")
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions after an answer for a closed connection, want 0", n)
	}
}

// TestSlowAuthOnGoroutineTransport: the same wait on the goroutine
// transport (TLS, WebSocket): packets behind CONNECT are handled after the
// worker's answer, and a refusal closes the connection at once.
func TestSlowAuthOnGoroutineTransport(t *testing.T) {
	t.Parallel()
	g := newGatedAuth()
	srv := startGated(t, g, func(c *server.Config) { c.ConnectTimeout = time.Minute }) // far beyond the wait below
	addr := serveConnListener(t, srv)
	ok := servertest.Dial(t, addr)
	b := codec.AppendConnect(nil, withUser(servertest.NewConnect("gt-ok", true, 30), "slow1", "pw-slow1"))
	ok.Write(codec.AppendPingreq(b))
	bad := servertest.Dial(t, addr)
	bad.Write(codec.AppendConnect(nil, withUser(servertest.NewConnect("gt-bad", true, 30), "slow2", "wrong")))
	servertest.Eventually(t, wait, func() bool { return g.waiting.Load() == 2 }, "both checks running")
	g.open()
	if ack := ok.ExpectConnack(); ack.ReasonCode != codec.Success {
		t.Fatalf("CONNACK %v", ack.ReasonCode)
	}
	ok.Expect(codec.PINGRESP)
	if ack := bad.ExpectConnack(); ack.ReasonCode != codec.ReasonCode(codec.ConnRefusedBadUsernamePassword) {
		t.Fatalf("CONNACK %v, want 0x04", ack.ReasonCode)
	}
	if !bad.Closed(wait) {
		t.Fatal("a refused goroutine connection must close at once, not after the connect timeout")
	}
}
