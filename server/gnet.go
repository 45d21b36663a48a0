package server

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// gnetHandler is the event handler of the plain TCP listener, the fast path.
// Every callback runs on the connection's event loop.
type gnetHandler struct {
	gnet.BuiltinEventEngine
	srv    *Server
	loops  sync.Map // gnet.EventLoop -> *loop
	nloops atomic.Int32
	boot   chan gnet.Engine
}

// loopOf returns the broker loop bound to a gnet event loop, creating it the
// first time the event loop opens a connection.
func (h *gnetHandler) loopOf(el gnet.EventLoop) *loop {
	if v, ok := h.loops.Load(el); ok {
		return v.(*loop)
	}
	q := &taskQueue{}
	l := newLoop(h.srv, nil)
	l.tq = q
	q.drain = gnet.RunnableFunc(func(context.Context) error {
		q.run()
		l.endTurn()
		return nil
	})
	l.post = func(task func()) bool { return q.post(el, task) }
	v, loaded := h.loops.LoadOrStore(el, l)
	if !loaded {
		l.name = strconv.Itoa(int(h.nloops.Add(1)) - 1)
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
	if h.srv.stopping.Load() {
		return nil, gnet.Close // shutting down: accept nothing new
	}
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
	l.ctr.open.Add(1)
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
	c.processBuffered()
	l.endTurn()
	return gnet.None
}

func (h *gnetHandler) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*client)
	if !ok {
		return gnet.None
	}
	l := c.l
	l.ctr.open.Add(-1)
	l.now = time.Now()
	l.closed(c)
	l.endTurn()
	return gnet.None
}

// taskQueue is a gnet loop's own FIFO of tasks from other goroutines. gnet's
// Execute is not FIFO under load (past 1,024 waiting tasks it shunts new ones
// to a second queue run after the first), and hand-overs must keep their
// order (per-publisher message order [MQTT-4.6.0-5], a take-over after the
// attach it follows). So tasks queue here and one drain task at a time sits
// in gnet's queue.
type taskQueue struct {
	mu        sync.Mutex
	tasks     []func()
	spare     []func()
	scheduled bool
	drain     gnet.RunnableFunc
}

func (q *taskQueue) post(el gnet.EventLoop, task func()) bool {
	q.mu.Lock()
	q.tasks = append(q.tasks, task)
	schedule := !q.scheduled
	q.scheduled = true
	q.mu.Unlock()
	if !schedule {
		return true
	}
	if err := el.Execute(context.Background(), q.drain); err != nil {
		q.mu.Lock()
		q.scheduled = false
		q.tasks = q.tasks[:0] // the engine is shutting down
		q.mu.Unlock()
		return false
	}
	return true
}

// run executes the queued tasks in order, on the loop.
func (q *taskQueue) run() {
	q.mu.Lock()
	batch := q.tasks
	q.tasks, q.spare = q.spare[:0], nil
	q.scheduled = false // a post from now on schedules the next drain
	q.mu.Unlock()
	for i, t := range batch {
		t()
		batch[i] = nil
	}
	q.mu.Lock()
	if q.spare == nil && cap(batch) <= 4096 {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
}
