package server_test

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
	"github.com/cp7/cp7/server/store"
)

// durableBroker is a broker on a store in dir; stop closes both, as a
// restart would.
type durableBroker struct {
	srv *server.Server
	st  *store.Store
	log *servertest.Log
}

func startDurable(t *testing.T, dir string, minFree uint64, configure func(*server.Config)) *durableBroker {
	t.Helper()
	lg := &servertest.Log{}
	log := slog.New(slog.NewTextHandler(lg, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := store.Open(store.Options{Dir: dir, MinFree: minFree, Log: log})
	require.NoError(t, err)
	cfg := servertest.TestConfig()
	cfg.Store = st
	if configure != nil {
		configure(&cfg)
	}
	srv, err := server.New(cfg, log)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	require.NoError(t, srv.Ready())
	b := &durableBroker{srv: srv, st: st, log: lg}
	t.Cleanup(b.stop)
	return b
}

func (b *durableBroker) stop() {
	if b.srv != nil {
		_ = b.srv.Close()
		_ = b.st.Close()
		b.srv = nil
	}
}

// TestStoreRecoversSessionsAndRetained restarts a broker on its store and
// checks that a persistent session's subscription and queued QoS 1 and 2
// messages, and the retained messages, come back; a session whose expiry
// passed while the broker was down does not.
func TestStoreRecoversSessionsAndRetained(t *testing.T) {
	dir := t.TempDir()
	b := startDurable(t, dir, 1, nil)
	addr := b.srv.Addr()

	sub := servertest.DialConnect(t, addr, "dur-sub", false, false)
	sub.MustSubscribe(1, 2, "d/#")
	sub.Write(codec.AppendDisconnect(nil, &codec.Disconnect{}, codec.Version311))
	sub.Close()
	exp := servertest.Dial(t, addr)
	cp := servertest.NewConnect("dur-exp", false, 0)
	cp.ProtocolVersion = codec.Version5
	cp.Props.SessionExpiry = 1
	cp.Props.Set(codec.PropSessionExpiry)
	require.Equal(t, codec.Success, exp.Connect(cp).ReasonCode)
	exp.MustSubscribe(1, 1, "d/#")
	exp.Write(codec.AppendDisconnect(nil, &codec.Disconnect{}, codec.Version5))
	exp.Close()
	offlineAt := time.Now()

	pub := servertest.DialConnect(t, addr, "dur-pub", true, false)
	pub.PublishAcked("d/1", "one", 1, false, 1)
	pub.PublishAcked("d/2", "two", 2, false, 2)
	pub.PublishAcked("r/x", "kept", 1, true, 3)
	pub.PublishAcked("r/y", "gone", 1, true, 4)
	pub.PublishAcked("r/y", "", 1, true, 5) // deletes r/y
	pub.Close()
	b.stop()

	// Let dur-exp's 1 s expiry pass while the broker is down.
	for time.Since(offlineAt) < 2500*time.Millisecond {
		time.Sleep(100 * time.Millisecond)
	}
	b = startDurable(t, dir, 1, nil)
	addr = b.srv.Addr()
	require.Contains(t, b.log.String(), "store: recovered")

	sub = servertest.DialConnect(t, addr, "dur-sub", false, true)
	p := sub.ExpectMessage("d/1", "one", 1, false)
	sub.SendAck(codec.PUBACK, p.PacketID)
	p = sub.ExpectMessage("d/2", "two", 2, false)
	sub.SendAck(codec.PUBREC, p.PacketID)
	sub.ExpectAck(codec.PUBREL, p.PacketID)
	sub.SendAck(codec.PUBCOMP, p.PacketID)

	exp = servertest.Dial(t, addr)
	cp.Props.SessionExpiry = 0
	require.False(t, exp.Connect(cp).SessionPresent, "a session whose expiry passed while the broker was down came back")

	ret := servertest.DialConnect(t, addr, "dur-ret", true, false)
	ret.MustSubscribe(1, 1, "r/#")
	ret.ExpectMessage("r/x", "kept", 1, true)
	require.True(t, ret.Closed(300*time.Millisecond) == false)

	// The acknowledged messages are gone from the store after a restart.
	sub.Close()
	b.stop()
	b = startDurable(t, dir, 1, nil)
	sub = servertest.DialConnect(t, b.srv.Addr(), "dur-sub", false, true)
	_, err := sub.ReadPacket(300 * time.Millisecond)
	require.ErrorIs(t, err, servertest.ErrTimeout, "an acknowledged message was delivered again")
}

// TestStoreDiskFull fills the store's file system (a small tmpfs the test
// mounts, or where mounting is not allowed, a free-space floor above what
// is free): durable work is refused (v5 PUBACK and CONNACK 0x97, a 3.1.1
// QoS 1 publisher is disconnected), clean sessions go on, and it all
// recovers by itself once space returns.
func TestStoreDiskFull(t *testing.T) {
	dir := t.TempDir()
	minFree := uint64(16 << 20)
	var ballast string
	if os.Geteuid() == 0 && exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", dir).Run() == nil {
		t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
		ballast = filepath.Join(dir, "ballast")
		t.Log("store on a 48 MiB tmpfs; refusing durable work below 16 MiB free")
	} else {
		t.Log("cannot mount a tmpfs: raising the free-space floor above what is free instead")
	}
	b := startDurable(t, filepath.Join(dir, "data"), minFree, nil)
	addr := b.srv.Addr()
	sub := servertest.DialConnect(t, addr, "full-sub", false, false)
	sub.MustSubscribe(1, 1, "f/#")

	fill := func() {
		if ballast != "" {
			f, err := os.Create(ballast)
			require.NoError(t, err)
			_, _ = f.Write(make([]byte, 40<<20)) // until ENOSPC: the rest is below the floor
			_ = f.Close()
		} else {
			b.st.SetMinFree(1 << 62)
		}
	}
	free := func() {
		if ballast != "" {
			require.NoError(t, os.Remove(ballast))
		} else {
			b.st.SetMinFree(minFree)
		}
	}
	fill()
	deadline := time.Now().Add(servertest.Timeout)
	for b.st.Accepting() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.False(t, b.st.Accepting(), "the store still accepts with the disk full")
	require.NotEmpty(t, b.log.Lines("store: disk nearly full"))

	v5 := servertest.Dial(t, addr)
	v5.Connect(&codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte("full-v5"), CleanStart: true})
	v5.Publish("f/1", "refused", 1, false, 1)
	pk := v5.Expect(codec.PUBACK)
	var ack codec.Ack
	require.NoError(t, ack.Decode(codec.PUBACK, pk.Body(), codec.Version5))
	require.Equal(t, codec.QuotaExceeded, ack.ReasonCode)

	pers := servertest.Dial(t, addr)
	cp := &codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte("full-pers")}
	cp.Props.SessionExpiry = 60
	cp.Props.Set(codec.PropSessionExpiry)
	require.Equal(t, codec.QuotaExceeded, pers.Connect(cp).ReasonCode)

	v3 := servertest.DialConnect(t, addr, "full-v3", true, false)
	v3.Publish("f/2", "refused", 1, false, 1)
	require.True(t, v3.Closed(servertest.Timeout), "a 3.1.1 QoS 1 publish that cannot be stored must disconnect")

	// Clean sessions and QoS 0 go on.
	clean := servertest.DialConnect(t, addr, "full-clean", true, false)
	clean.MustSubscribe(1, 0, "c/#")
	qp := servertest.DialConnect(t, addr, "full-qp", true, false)
	qp.Publish("c/1", "still", 0, false, 0)
	clean.ExpectMessage("c/1", "still", 0, false)

	free()
	deadline = time.Now().Add(servertest.Timeout)
	for !b.st.Accepting() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.True(t, b.st.Accepting(), "the store did not recover when space returned")
	v5.Publish("f/1", "stored", 1, false, 2)
	pk = v5.Expect(codec.PUBACK)
	require.NoError(t, ack.Decode(codec.PUBACK, pk.Body(), codec.Version5))
	require.Equal(t, codec.Success, ack.ReasonCode)
	p := sub.ExpectMessage("f/1", "stored", 1, false)
	sub.SendAck(codec.PUBACK, p.PacketID)
	t.Logf("refused while full: %d", b.srv.Stats().RefusedStore)
}

var _ net.Addr

// TestStoreCleanStartReplacesRecoveredSession: a v5 client that returns
// with Clean Start to a recovered session gets a new persistent session;
// after another restart only the new one's subscription exists (the old
// session's delete reached the store before the new record).
func TestStoreCleanStartReplacesRecoveredSession(t *testing.T) {
	dir := t.TempDir()
	connect := func(addr net.Addr, clean, present bool) *servertest.Conn {
		c := servertest.Dial(t, addr)
		cp := &codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte("cs-client"), CleanStart: clean}
		cp.Props.SessionExpiry = 300
		cp.Props.Set(codec.PropSessionExpiry)
		ack := c.Connect(cp)
		require.Equal(t, codec.Success, ack.ReasonCode)
		require.Equal(t, present, ack.SessionPresent)
		return c
	}
	bye := func(c *servertest.Conn) {
		c.Write(codec.AppendDisconnect(nil, &codec.Disconnect{}, codec.Version5))
		c.Close()
	}
	b := startDurable(t, dir, 1, nil)
	c := connect(b.srv.Addr(), true, false)
	c.MustSubscribe(1, 1, "old/#")
	bye(c)
	b.stop()

	b = startDurable(t, dir, 1, nil)
	c = connect(b.srv.Addr(), true, false)
	c.MustSubscribe(1, 1, "new/#")
	bye(c)
	b.stop()

	b = startDurable(t, dir, 1, nil)
	c = connect(b.srv.Addr(), false, true)
	pub := servertest.DialConnect(t, b.srv.Addr(), "cs-pub", true, false)
	pub.PublishAcked("old/1", "stale", 1, false, 1)
	pub.PublishAcked("new/1", "fresh", 1, false, 2)
	c.ExpectMessage("new/1", "fresh", 1, false)
}

// TestStoreDelayedWillSurvivesRestart: a v5 client's delayed will, pending
// when the broker stops, is published by the restarted broker when its
// (wall-clock) delay ends.
func TestStoreDelayedWillSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := startDurable(t, dir, 1, nil)
	c := servertest.Dial(t, b.srv.Addr())
	cp := servertest.WithWill(&codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte("will-client")}, "will/gone", "bye", 1, false)
	cp.Props.SessionExpiry = 60
	cp.Props.Set(codec.PropSessionExpiry)
	cp.WillProps.WillDelay = 2
	cp.WillProps.Set(codec.PropWillDelay)
	require.Equal(t, codec.Success, c.Connect(cp).ReasonCode)
	c.Close() // no DISCONNECT: the will is due in 2 s
	deadline := time.Now().Add(servertest.Timeout)
	for b.srv.Stats().Disconnects == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b.stop()

	b = startDurable(t, dir, 1, nil)
	sub := servertest.DialConnect(t, b.srv.Addr(), "will-watch", true, false)
	sub.MustSubscribe(1, 1, "will/#")
	sub.ExpectMessage("will/gone", "bye", 1, false)
}
