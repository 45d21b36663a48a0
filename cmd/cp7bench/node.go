package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// node runs one process's share of the clients: the connect phase, the
// keepalive pinger, the publish pacer and every client's goroutines. Its
// counters are atomics read by the coordinator (in this process) or by the
// child-process reporter.
type node struct {
	cfg     *config
	part    part
	dialers dialers
	epoch   time.Time // monotonic base of client timestamps
	hist    *Histogram
	errs    *errLog

	conns, connFail, up             atomic.Int64
	sent, acked, recv, expect, errN atomic.Int64
	skipped                         atomic.Int64 // publishes a late publisher skipped instead of bursting
	connStart, connEnd              atomic.Int64 // unix ns of first dial and last CONNACK
	ready, pubDone                  atomic.Bool
	pubsLeft                        atomic.Int64
	budget                          atomic.Int64 // messages left under -L (when limited)
	limited                         bool
	expectKnown                     bool

	mu      sync.Mutex
	clients []*client // every connected client, in connect order
	pubs    []*client // connected publishers

	begun     atomic.Bool
	pubStop   chan struct{} // closed when publishing ends
	pubStopMu sync.Once
	stopAll   chan struct{} // closed at stop
	stopping  atomic.Bool
	stopOnce  sync.Once
	readers   sync.WaitGroup
	writers   sync.WaitGroup
	connected chan struct{} // closed when the connect phase has ended
}

func newNode(cfg *config, p part, stderr io.Writer) *node {
	n := &node{
		cfg:       cfg,
		part:      p,
		dialers:   newDialers(cfg.srcAddrs, cfg.connTO),
		epoch:     time.Now(),
		hist:      new(Histogram),
		errs:      newErrLog(stderr, 10),
		pubStop:   make(chan struct{}),
		stopAll:   make(chan struct{}),
		connected: make(chan struct{}),
	}
	if p.Limit > 0 {
		n.limited = true
		n.budget.Store(p.Limit)
	}
	// Decided here, before any goroutine starts: snapshot reads it from
	// the coordinator while connectAll is still running.
	n.expectKnown = cfg.mode == "pubsub" && int64(cfg.subs)*int64(p.PubCount) <= 50_000_000
	return n
}

// nanotime is the node's monotonic clock in nanoseconds.
func (n *node) nanotime() int64 { return int64(time.Since(n.epoch)) }

// start begins the connect phase and returns at once.
func (n *node) start() {
	go n.connectAll()
	go n.pinger()
}

// connectAll dials this process's subscribers, then its publishers, paced by
// -R (shared out over the processes) and at most -cc handshakes at a time.
func (n *node) connectAll() {
	defer close(n.connected)
	defer n.ready.Store(true)
	cfg, p := n.cfg, n.part
	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, cfg.connConc)
		deadline = time.Now().Add(cfg.connLimit)
		interval time.Duration
	)
	if cfg.connRate > 0 {
		interval = time.Duration(float64(time.Second) * float64(p.Of) / cfg.connRate)
	}
	type job struct {
		global int // index into the run's clients, for the source address
		idx    int // index for %i and the client id
		sub    bool
	}
	jobs := make([]job, 0, p.SubCount+p.PubCount)
	for i := 0; i < p.SubCount; i++ {
		g := p.SubOff + i
		jobs = append(jobs, job{global: g, idx: cfg.startIdx + g, sub: true})
	}
	for i := 0; i < p.PubCount; i++ {
		g := p.PubOff + i
		jobs = append(jobs, job{global: cfg.subs + g, idx: cfg.startIdx + g, sub: false})
	}
	filters := n.filters()
	next := time.Now()
	for k, j := range jobs {
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				if !n.sleep(d) {
					n.connFail.Add(int64(len(jobs) - k))
					break
				}
			}
		}
		if time.Now().After(deadline) || n.stopping.Load() {
			n.connFail.Add(int64(len(jobs) - k))
			n.errs.printf("cp7bench: connect phase hit -connect-limit %v with %d clients not started; raise -connect-limit or -R", cfg.connLimit, len(jobs)-k)
			break
		}
		sem <- struct{}{}
		if k == 0 {
			n.connStart.Store(time.Now().UnixNano())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{n: n, global: j.global, idx: j.idx, sub: j.sub, id: cfg.clientID(j.idx, j.sub)}
			if !j.sub {
				c.topic = []byte(expand(cfg.topic, c.idx, c.id))
				c.fan = -1
				if filters != nil {
					c.fan = fanOut(string(c.topic), filters)
				}
			}
			fr, err := c.handshake()
			<-sem
			if err != nil {
				n.connFail.Add(1)
				n.errs.printf("%v", err)
				return
			}
			n.conns.Add(1)
			n.up.Add(1)
			storeMax(&n.connEnd, time.Now().UnixNano())
			n.mu.Lock()
			n.clients = append(n.clients, c)
			if !c.sub {
				n.pubs = append(n.pubs, c)
			}
			n.mu.Unlock()
			n.readers.Add(1)
			go c.readLoop(fr)
		}()
	}
	wg.Wait()
}

// filters returns every subscriber's filter of the whole run, for counting
// expected deliveries, or nil when that is unknown or too costly.
func (n *node) filters() []string {
	cfg := n.cfg
	if !n.expectKnown {
		return nil
	}
	fs := make([]string, cfg.subs)
	for g := range fs {
		idx := cfg.startIdx + g
		fs[g] = expand(cfg.filter, idx, cfg.clientID(idx, true))
	}
	return fs
}

// sleep waits d or until stop; false means stop came first.
func (n *node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.stopAll:
		return false
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// pinger sends PINGREQ to every client that has written nothing for half
// the keepalive: one goroutine per process, not a timer per connection.
func (n *node) pinger() {
	if n.cfg.keepalive == 0 {
		return
	}
	half := int64(n.cfg.keepalive) * int64(time.Second) / 2
	ping := appendPingreq(nil)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.stopAll:
			return
		case <-t.C:
		}
		n.mu.Lock()
		cs := n.clients
		n.mu.Unlock()
		now := n.nanotime()
		for _, c := range cs {
			if c.dead.Load() || now-c.lastWrite.Load() < half {
				continue
			}
			c.write(ping)
			if n.stopping.Load() {
				return
			}
		}
	}
}

// begin starts publishing: the window is -duration from now, or until the
// -L share is used up.
func (n *node) begin() {
	if !n.begun.CompareAndSwap(false, true) {
		return
	}
	n.mu.Lock()
	pubs := n.pubs
	n.mu.Unlock()
	if len(pubs) == 0 {
		n.pubDone.Store(true)
		return
	}
	n.pubsLeft.Store(int64(len(pubs)))
	start := n.nanotime()
	end := start + int64(n.cfg.duration)
	// Spread the publishers' first message over one interval (at most 1 s),
	// so slow publishers do not all fire on the same tick.
	period := int64(float64(time.Second) / n.cfg.rate)
	if period > int64(time.Second) {
		period = int64(time.Second)
	}
	total := max(n.cfg.pubs, 1)
	for _, c := range pubs {
		c.wake = make(chan struct{}, 1)
		off := period * int64((c.global-n.cfg.subs)%total) / int64(total)
		c.nextDue.Store(start + off)
		n.writers.Add(1)
		go c.publishLoop(start + off)
	}
	go n.pacer(pubs, end)
}

// pacer is the process's one publish clock: each tick it wakes the
// publishers whose next message is due, and at the end of the window it
// stops them all.
func (n *node) pacer(pubs []*client, end int64) {
	t := time.NewTicker(n.cfg.tick)
	defer t.Stop()
	for {
		select {
		case <-n.pubStop:
			return
		case <-t.C:
		}
		now := n.nanotime()
		if now >= end {
			n.endPublishing()
			return
		}
		for _, c := range pubs {
			if now >= c.nextDue.Load() {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (n *node) endPublishing() { n.pubStopMu.Do(func() { close(n.pubStop) }) }

// publisherDone is called by each publisher goroutine as it ends.
func (n *node) publisherDone() {
	if n.pubsLeft.Add(-1) == 0 {
		n.endPublishing()
		n.pubDone.Store(true)
	}
}

// take reserves up to want messages of the -L budget.
func (n *node) take(want int64) int64 {
	if !n.limited {
		return want
	}
	for {
		left := n.budget.Load()
		if left <= 0 {
			return 0
		}
		got := min(want, left)
		if n.budget.CompareAndSwap(left, left-got) {
			return got
		}
	}
}

// stop ends everything: publishing, then each connection with a DISCONNECT.
// It returns when every client goroutine has ended.
func (n *node) stop() {
	n.stopOnce.Do(func() {
		n.stopping.Store(true)
		n.endPublishing()
		close(n.stopAll)
		<-n.connected
		n.writers.Wait()
		n.mu.Lock()
		cs := n.clients
		n.mu.Unlock()
		disc := appendDisconnect(nil, byte(n.cfg.version))
		for _, c := range cs {
			c.close(disc)
		}
		n.readers.Wait()
	})
}

// nodeStats is a snapshot of a node's counters.
type nodeStats struct {
	Conns     int64 `json:"conns"`
	ConnFail  int64 `json:"conn_fail"`
	Up        int64 `json:"up"`
	Sent      int64 `json:"sent"`
	Acked     int64 `json:"acked"`
	Recv      int64 `json:"recv"`
	Expected  int64 `json:"expected"` // -1: unknown
	Errors    int64 `json:"errors"`
	Skipped   int64 `json:"skipped"`
	ConnStart int64 `json:"conn_start"`
	ConnEnd   int64 `json:"conn_end"`
	Ready     bool  `json:"ready"`
	PubDone   bool  `json:"pub_done"`
}

func (n *node) snapshot() nodeStats {
	s := nodeStats{
		Conns: n.conns.Load(), ConnFail: n.connFail.Load(), Up: n.up.Load(),
		Sent: n.sent.Load(), Acked: n.acked.Load(), Recv: n.recv.Load(),
		Expected: n.expect.Load(), Errors: n.errN.Load() + n.connFail.Load(), Skipped: n.skipped.Load(),
		ConnStart: n.connStart.Load(), ConnEnd: n.connEnd.Load(),
		Ready: n.ready.Load(), PubDone: n.pubDone.Load(),
	}
	if !n.expectKnown {
		s.Expected = -1
	}
	return s
}

// errLog prints the first few errors to stderr and counts the rest.
type errLog struct {
	mu      sync.Mutex
	w       io.Writer
	limit   int
	printed int
}

func newErrLog(w io.Writer, limit int) *errLog { return &errLog{w: w, limit: limit} }

func (e *errLog) printf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.printed++
	switch {
	case e.printed <= e.limit:
		fmt.Fprintf(e.w, format+"\n", args...)
	case e.printed == e.limit+1:
		fmt.Fprintf(e.w, "cp7bench: more errors in this process are counted, not printed\n")
	}
}
