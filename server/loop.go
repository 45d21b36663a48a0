package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server/store"
)

// loop is a unit of ownership: a gnet event loop, or the goroutine that owns
// one TLS/WebSocket connection. Every client and every session belongs to
// exactly one loop, and only that loop's goroutine touches their state; other
// goroutines hand work over with post. Fields below "owner only" must only be
// touched from the loop's goroutine.
type loop struct {
	srv *Server
	// post queues task to run on the loop's goroutine, followed by endTurn.
	// Safe from any goroutine. It returns false when the loop is gone (its
	// engine shut down or its connection ended).
	post func(task func()) bool

	// backlog counts deliveries handed to this loop and not yet run: gnet's
	// task queue is unbounded, so the broker bounds what it gives it.
	backlog atomic.Int64

	// epfd is the gnet loop's epoll descriptor, for pausing a connection's
	// input (input.go); -1 where unknown or not gnet.
	epfd int
	// waiters are the loops with a publisher paused on this loop's backlog,
	// told when it drains. Guarded by waitMu; hasWaiters mirrors len > 0.
	waitMu     sync.Mutex
	waiters    []*loop
	hasWaiters atomic.Bool

	// owner only
	paused       []*client     // connections whose input is paused (input.go)
	inputs       []*inputState // by clientExtra.in - 1 (input.go)
	inputsFree   []uint32      // free indexes of inputs
	retainedWait []*client     // connections with retained messages still to send (retain.go)
	outWanted    bool          // the output ticker will post outputCheck (input.go)
	outPaused    int           // paused connections waiting for their socket to drain
	retainedRun  bool          // a sendRetainedQueued task is posted
	dirty        []*client     // clients with bytes in out, flushed by endTurn
	spare        []*client     // the other dirty array, swapped each round
	inTurn       bool          // endTurn is running (re-entered through OnClose)
	// ephemeral loops serve one goroutine connection and end with it
	ephemeral bool
	// processing is the client whose input process is parsing right now
	processing *client
	outbox     map[*loop]*xferBatch // deliveries for sessions owned by other loops
	wheel      wheel
	now        time.Time // cached wall clock for this turn (message expiry)
	// count holds this turn's per-message figures: added to the loop's
	// counters (ctr) once per turn, not once per packet.
	count turnCounts
	// ctr are the loop's counters (counters.go); goroutine connections'
	// loops share the server's goCtr.
	ctr *loopCounters
	// name labels the loop's backlog in Metrics ("" for goroutine
	// connections' loops, which are not listed one by one)
	name string
	tq   *taskQueue // a gnet loop's task queue, for its backlog
	hot  *hotTopics // sampled busiest topics; nil on goroutine connections' loops

	// spares of the QoS 1/2 bookkeeping, reused instead of allocated per
	// message (bounded by maxSpares)
	spareStates []*sessionState
	spareOut    []*outbound

	// scratch reused for every packet so decoding does not allocate. A gnet
	// loop owns one; a TLS/WebSocket connection's loop borrows one from a
	// pool for each batch of tasks, since most of them sit idle.
	*scratch
	ownSrc *Message // own(): the borrowed message last copied...
	ownDst *Message // ...and its copy, shared by this turn's deliveries
	// busOut holds this turn's messages for other nodes (frames, see
	// busmsg.go), handed to the cluster in one batch by endTurn.
	busOut []byte

	// durable store (durable.go): this turn's writes, the loop's batches
	// submitted and committed, and the publishes waiting for a commit
	sb     *store.Batch
	sbSeq  uint64
	sbDone uint64
	sbOps  uint64 // writes so far (a publish compares before and after)
	// the batch each client's last deferred ack waits for, while it does
	// (a map on the loop: clientExtra has no room in its size class)
	storeTags map[*client]uint64
	waiting   []pendingPub
	refs      []uint64 // stored reference per match delivery (storeMatched)
	sbuf      []byte   // encoded properties scratch
}

// scratch is what a loop decodes into and encodes from; nothing in it
// outlives a turn.
type scratch struct {
	pkt    packets
	match  router.Result
	props  codec.Properties // forwarded properties of the publish in hand
	encode codec.Publish    // outbound PUBLISH being encoded
	inMsg  Message          // the message of the PUBLISH in hand (borrowed)
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// packets are the decode targets reused by a loop.
type packets struct {
	connect codec.Connect
	publish codec.Publish
	ack     codec.Ack
	sub     codec.Subscribe
	unsub   codec.Unsubscribe
	disc    codec.Disconnect
	auth    codec.Auth
	codes   []codec.ReasonCode
}

// xfer is one delivery handed to another loop.
type xfer struct { // also a delivery waiting for a commit (pendingPub)
	s   *session
	m   *Message
	opt deliverOpts
}

func newLoop(srv *Server, post func(func()) bool) *loop {
	l := &loop{srv: srv, post: post, scratch: new(scratch), ctr: new(loopCounters), hot: new(hotTopics), epfd: -1}
	srv.addCounters(l.ctr)
	l.wheel.init(time.Now(), wheelSlots)
	return l
}

// newConnLoop makes the loop of one goroutine connection (TLS, WebSocket).
func newConnLoop(srv *Server, post func(func()) bool) *loop {
	l := &loop{srv: srv, post: post, ephemeral: true, ctr: srv.goCtr, epfd: -1} // scratch: borrowed per batch
	l.wheel.init(time.Now(), 4)
	return l
}

// maxSpares bounds each spare list: a gnet loop serves many sessions, a
// goroutine connection's loop one.
func (l *loop) maxSpares() int {
	if l.ephemeral {
		return 1
	}
	return 1024
}

// newOutbound returns a zeroed outbound delivery, a spare if l has one.
func (l *loop) newOutbound() *outbound {
	if n := len(l.spareOut); n > 0 {
		o := l.spareOut[n-1]
		l.spareOut[n-1] = nil
		l.spareOut = l.spareOut[:n-1]
		return o
	}
	return new(outbound)
}

// freeOutbound keeps o for reuse. The caller must hold the only reference:
// o has left the session's in-flight window and queue.
func (l *loop) freeOutbound(o *outbound) {
	if o == nil {
		return
	}
	*o = outbound{}
	if len(l.spareOut) < l.maxSpares() {
		l.spareOut = append(l.spareOut, o)
	}
}

// markDirty schedules c's buffered output for the end of this turn.
func (l *loop) markDirty(c *client) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

// endTurn flushes every touched connection once (one write per connection
// per turn) and hands each other loop its batch in one task.
func (l *loop) endTurn() {
	if l.inTurn {
		return // a write ran OnClose inside gnet: the outer endTurn goes on
	}
	l.inTurn = true
	for len(l.dirty) > 0 {
		batch := l.dirty
		l.dirty = l.spare[:0]
		for i, c := range batch {
			batch[i] = nil
			c.dirty = false
			c.flush()
		}
		l.spare = batch[:0]
	}
	l.flushCounts()
	l.inTurn = false
	if len(l.retainedWait) > 0 || l.outPaused > 0 {
		l.scheduleOutput()
	}
	if l.sb != nil {
		l.submitStore() // before the hand-overs: their receivers' writes come after
	}
	if len(l.busOut) > 0 {
		l.srv.cluster.Publish(l.busOut)
		l.busOut = nil
	}
	for target, b := range l.outbox {
		delete(l.outbox, target) // ended TLS/WebSocket loops must not pile up as keys
		n := int64(len(b.xs))
		target.backlog.Add(n)
		if !target.post(b.run) {
			target.backlog.Add(-n)
			// The loop ended (a TLS/WebSocket connection closed): its
			// session moved on before it stopped taking tasks, so follow it.
			for _, x := range b.xs {
				x := x
				l.srv.postToOwner(x.s, func(o *loop) { o.deliver(x.s, x.m, x.opt) })
			}
			b.recycle()
		}
	}
}

// handOver queues a delivery for a session owned by another loop.
func (l *loop) handOver(target *loop, s *session, m *Message, opt deliverOpts) {
	if target.backlog.Load() > int64(l.srv.cfg.MaxLoopBacklog) {
		if min(m.QoS, opt.qos) == 0 {
			// The target loop is this far behind: shed QoS 0 rather than
			// grow its queue without bound.
			l.drop(dropBacklog)
			return
		}
		// QoS 1/2 is never dropped: it goes, and its publisher is not read
		// until the target catches up, so the backlog stays bounded by
		// what the publishers already sent.
		if c := l.processing; c != nil {
			l.input(c).waitOn = target
			l.pauseInput(c, limBacklog, "a subscriber's loop is too far behind")
			target.addWaiter(l)
		}
	}
	if l.outbox == nil {
		l.outbox = make(map[*loop]*xferBatch, 4)
	}
	if len(opt.subIDs) > 0 {
		opt.subIDs = append([]uint32(nil), opt.subIDs...) // the match scratch is reused
	}
	b := l.outbox[target]
	if b == nil {
		b = xferBatches.Get().(*xferBatch)
		b.to = target
		l.outbox[target] = b
	}
	b.xs = append(b.xs, xfer{s: s, m: m, opt: opt})
}

// xferBatch is one turn's deliveries from one loop to another, posted to the
// target as one task. Batches and their task functions are reused, so a
// hand-over allocates nothing once the pool is warm.
type xferBatch struct {
	to  *loop
	xs  []xfer
	run func() // b.deliver, bound once
}

var xferBatches sync.Pool // of *xferBatch; New is set in init (it refers back to the pool)

func init() {
	xferBatches.New = func() any {
		b := new(xferBatch)
		b.run = b.deliver
		return b
	}
}

// deliver runs on the target loop.
func (b *xferBatch) deliver() {
	b.to.receive(b.xs)
	b.recycle()
}

func (b *xferBatch) recycle() {
	clear(b.xs)
	b.xs, b.to = b.xs[:0], nil
	if cap(b.xs) <= 4096 {
		xferBatches.Put(b)
	}
}

// addWaiter asks l to wake w once its backlog drains. Any goroutine.
func (l *loop) addWaiter(w *loop) {
	l.waitMu.Lock()
	for _, x := range l.waiters {
		if x == w {
			l.waitMu.Unlock()
			return
		}
	}
	l.waiters = append(l.waiters, w)
	l.hasWaiters.Store(true)
	l.waitMu.Unlock()
}

// wakeWaiters tells the loops waiting on l's backlog to check their paused
// publishers, once the backlog is down to half its limit.
func (l *loop) wakeWaiters() {
	if !l.hasWaiters.Load() || l.backlog.Load() > int64(l.srv.cfg.MaxLoopBacklog/2) {
		return
	}
	l.waitMu.Lock()
	ws := l.waiters
	l.waiters = nil
	l.hasWaiters.Store(false)
	l.waitMu.Unlock()
	for _, w := range ws {
		w := w
		w.post(w.checkPaused)
	}
}

// receive runs a batch handed over by another loop.
func (l *loop) receive(batch []xfer) {
	defer l.wakeWaiters()
	defer l.backlog.Add(-int64(len(batch)))
	l.now = time.Now()
	for i := range batch {
		x := &batch[i]
		l.deliver(x.s, x.m, x.opt)
		batch[i] = xfer{}
	}
}

// pending is the number of tasks waiting in a gnet loop's own queue.
func (l *loop) pending() int64 {
	if l.tq == nil {
		return 0
	}
	l.tq.mu.Lock()
	defer l.tq.mu.Unlock()
	return int64(len(l.tq.tasks))
}

// tick runs once a second on the loop: keepalive, connect timeouts, will
// delays and session expiry, from the loop's timing wheel.
func (l *loop) tick(now time.Time) {
	l.now = now
	l.wheel.advance(now, l)
	l.checkPaused()
	l.sendRetainedQueued()
	if l.hot != nil {
		l.hot.decay(now)
	}
}

// goLoop is the executor of a loop owned by a goroutine (TLS and WebSocket
// connections): a task queue drained by one goroutine.
type goLoop struct {
	mu     sync.Mutex
	tasks  []func()
	wake   chan struct{}
	closed bool
}

func newGoLoop() *goLoop { return &goLoop{wake: make(chan struct{}, 1)} }

func (g *goLoop) post(task func()) bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.tasks = append(g.tasks, task)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return true
}

// run drains tasks until stop is closed, then marks the loop closed and runs
// what is left (so a hand-over that raced with the end still lands).
func (g *goLoop) run(l *loop, stop <-chan struct{}) {
	var batch []func()
	for {
		select {
		case <-g.wake:
		case <-stop:
			// Run what is queued first: it holds the connection's close,
			// which moves a surviving session to the parking loop. Only then
			// refuse new tasks, so a refused poster finds the new owner.
			l.borrowScratch()
			defer l.returnScratch()
			g.mu.Lock()
			batch, g.tasks = g.tasks, batch[:0]
			g.mu.Unlock()
			for i, t := range batch {
				t()
				batch[i] = nil
			}
			g.mu.Lock()
			g.closed = true
			batch, g.tasks = g.tasks, nil
			g.mu.Unlock()
			for _, t := range batch {
				t()
			}
			l.endTurn()
			return
		}
		g.mu.Lock()
		batch, g.tasks = g.tasks, batch[:0]
		g.mu.Unlock()
		l.borrowScratch()
		for i, t := range batch {
			t()
			batch[i] = nil
		}
		l.endTurn()
		l.returnScratch()
	}
}

// borrowScratch gives a connection's loop scratch for a batch of tasks.
func (l *loop) borrowScratch() {
	if l.ephemeral && l.scratch == nil {
		l.scratch = scratchPool.Get().(*scratch)
	}
}

// returnScratch hands it back; the next batch may get another one.
func (l *loop) returnScratch() {
	if l.ephemeral && l.scratch != nil {
		l.inMsg = Message{}
		l.ownSrc, l.ownDst = nil, nil
		scratchPool.Put(l.scratch)
		l.scratch = nil
	}
}
