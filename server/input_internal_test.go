package server

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cp7/cp7/codec"
)

// TestEpollFDFound guards the one place the broker reads gnet's internals:
// pausing a connection's input needs the loop's epoll descriptor. A gnet
// upgrade that moves it fails here instead of silently buffering.
func TestEpollFDFound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.EventLoops = "127.0.0.1:0", 1
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		found := -2
		srv.handler.loops.Range(func(_, v any) bool { found = v.(*loop).epfd; return false })
		if found >= 0 {
			return
		}
		if found == -1 {
			t.Fatal("epollFD found no epoll descriptor in gnet's event loop: pausing input would not work")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no gnet loop appeared")
}

// TestQoS1HandOverPausesPublisher: a QoS 1 hand-over to a loop past
// MaxLoopBacklog is not dropped; its publisher is paused and resumed once
// the target drains.
func TestQoS1HandOverPausesPublisher(t *testing.T) {
	bb := newBenchBroker(t)
	bb.srv.cfg.MaxLoopBacklog = 2
	var queued []func()
	target := newLoop(bb.srv, func(f func()) bool { queued = append(queued, f); return true })
	s := &session{id: "s"}
	s.owner.Store(target)
	pub, _ := bb.connect(t, "pub", codec.Version311, "")
	m := &Message{Topic: []byte("t"), Payload: []byte("x"), QoS: 1, owned: true}
	bb.l.processing = pub
	for range 4 {
		bb.l.handOver(target, s, m, deliverOpts{qos: 1})
		bb.l.endTurn()
	}
	bb.l.processing = nil
	if got := target.backlog.Load(); got != 4 {
		t.Fatalf("backlog %d, want 4: QoS 1 is never dropped", got)
	}
	if !pub.inputPaused() || bb.srv.Stats().PausedBacklog != 1 {
		t.Fatalf("publisher paused %v, PausedBacklog %d: want paused once", pub.inputPaused(), bb.srv.Stats().PausedBacklog)
	}
	for _, f := range queued { // the target catches up: runs the hand-overs
		f()
	}
	if pub.inputPaused() {
		t.Fatal("publisher still paused after the target's backlog drained")
	}
}

// TestTCPKeepAliveOnAccepted: accepted TCP sockets get SO_KEEPALIVE with
// -tcp-keepalive's idle time, so peers that vanished are found even with
// MQTT keepalive 0.
func TestTCPKeepAliveOnAccepted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.EventLoops, cfg.TCPKeepAlive = "127.0.0.1:0", 1, 42*time.Second
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan [2]int, 1)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var l *loop
		srv.handler.loops.Range(func(_, v any) bool { l = v.(*loop); return false })
		if l != nil && l.post(func() {
			for _, slot := range l.wheel.clients {
				for _, e := range slot {
					on, _ := unix.GetsockoptInt(e.c.gc.Fd(), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
					idle, _ := unix.GetsockoptInt(e.c.gc.Fd(), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
					got <- [2]int{on, idle}
					return
				}
			}
		}) {
			select {
			case v := <-got:
				if v[0] != 1 || v[1] != 42 {
					t.Fatalf("SO_KEEPALIVE %d, TCP_KEEPIDLE %d; want 1 and 42", v[0], v[1])
				}
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no accepted connection found on the loop")
}
