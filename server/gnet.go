package server

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// gnetHandler is the event handler of the plain TCP listener, the fast path.
// Every callback runs on the connection's event loop.
type gnetHandler struct {
	gnet.BuiltinEventEngine
	srv   *Server
	loops sync.Map // gnet.EventLoop -> *loop
	boot  chan gnet.Engine
}

// loopOf returns the broker loop bound to a gnet event loop, creating it the
// first time the event loop opens a connection.
func (h *gnetHandler) loopOf(el gnet.EventLoop) *loop {
	if v, ok := h.loops.Load(el); ok {
		return v.(*loop)
	}
	var l *loop
	l = newLoop(h.srv, func(task func()) bool {
		err := el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			task()
			l.endTurn()
			return nil
		}))
		return err == nil
	})
	v, loaded := h.loops.LoadOrStore(el, l)
	if !loaded {
		h.srv.addLoop(l)
	}
	return v.(*loop)
}

func (h *gnetHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.boot <- eng
	return gnet.None
}

// OnOpen allocates only the small client struct: no buffer, map or timer.
func (h *gnetHandler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	l := h.loopOf(gc.EventLoop())
	now := time.Now()
	c := &client{l: l, gc: gc, lastActive: now.UnixMilli()}
	if h.srv.cfg.ProxyProtocol && h.srv.proxyAllowed(gc.RemoteAddr()) {
		// A trusted load balancer must send the header first; other peers
		// speak MQTT directly (a PROXY header from them fails to parse as
		// MQTT and closes the connection, so it cannot spoof an address).
		c.ext().proxyPending = true
	}
	gc.SetContext(c)
	l.wheel.add(c, secondsCeil(c.lastActive+h.srv.cfg.ConnectTimeout.Milliseconds()))
	h.srv.stats.connections.Add(1)
	return nil, gnet.None
}

// OnTraffic handles every complete packet buffered; gnet will not call again
// for bytes already buffered, so it loops until the data runs short.
func (h *gnetHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*client)
	if !ok {
		return gnet.Close
	}
	l := c.l
	l.now = time.Now()
	buf, _ := gc.Peek(-1)
	n, closeNow := l.process(c, buf)
	_, _ = gc.Discard(n)
	if closeNow {
		c.end()
	}
	l.endTurn()
	return gnet.None
}

func (h *gnetHandler) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*client)
	if !ok {
		return gnet.None
	}
	h.srv.stats.connections.Add(-1)
	l := c.l
	l.now = time.Now()
	l.closed(c)
	l.endTurn()
	return gnet.None
}
