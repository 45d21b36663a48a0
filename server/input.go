package server

import (
	"reflect"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/cp7/cp7/codec"
)

// Input limits. A connection's input is read only while no limit holds it:
// MaxInboundBytes (incomplete packets across all connections), PublishRate,
// a QoS 1/2 hand-over target's MaxLoopBacklog, and MaxOutboundBytes of
// responses (acks, PINGRESP) the client does not read. Paused, its socket's
// read interest is removed from the loop's epoll set, so the kernel's receive
// buffer fills and TCP flow control stops the peer: the broker holds no more
// of its bytes, and nothing is dropped. A paused connection is resumed by
// its loop once the limit clears (checked each tick, and when a backlog
// drains).

// maxPausedInput bounds what gnet may still read for a paused connection:
// gnet re-arms read interest on its own when it finishes a pending write,
// each time letting one read (at most its 64 KiB buffer) through.
const maxPausedInput = 1 << 20

// epollFD returns the epoll descriptor of a gnet event loop, or -1. gnet
// v2.9.7 has no way to stop reading one connection, so the broker changes
// the connection's epoll interest itself; the descriptor is read from the
// loop's poller (eventloop.poller.fd) once per loop. A gnet upgrade that
// moves it makes this -1 (TestEpollFDFound fails) and pausing then only
// stops parsing, bounded by maxPausedInput.
func epollFD(el gnet.EventLoop) int {
	v := reflect.ValueOf(el)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return -1
	}
	p := v.Elem().FieldByName("poller")
	if !p.IsValid() || p.Kind() != reflect.Pointer || p.IsNil() || p.Elem().Kind() != reflect.Struct {
		return -1
	}
	fd := p.Elem().FieldByName("fd")
	if !fd.IsValid() || fd.Kind() != reflect.Int {
		return -1
	}
	return int(fd.Int())
}

// setReadInterest arms or disarms reading of c's socket in the loop's epoll
// set, keeping write interest while gnet holds unsent bytes. gnet's
// level-triggered registration uses the descriptor as the event's data.
func (l *loop) setReadInterest(c *client, read bool) {
	if c.gc == nil || l.epfd < 0 {
		return
	}
	fd := c.gc.Fd()
	var ev uint32
	if read {
		ev = unix.EPOLLIN | unix.EPOLLPRI
	}
	if c.gc.OutboundBuffered() > 0 {
		ev |= unix.EPOLLOUT
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Fd: int32(fd), Events: ev})
}

// pauseInput stops reading c until limit k clears; it counts and logs the
// limit once per pause. Owner only.
func (l *loop) pauseInput(c *client, k limitKind, detail string) {
	x := l.input(c)
	if x.pauseWhy&(1<<k) == 0 {
		x.pauseWhy |= 1 << k
		l.clientLimit(k, c, detail)
		if k == limOutbound {
			l.outPaused++
		}
	}
	if k == limInboundBytes {
		srv := l.srv
		srv.outMu.Lock()
		if srv.inLoops == nil {
			srv.inLoops = make(map[*loop]struct{})
		}
		srv.inLoops[l] = struct{}{}
		srv.inWaiting.Store(true)
		srv.outMu.Unlock()
	}
	if x.paused {
		return
	}
	x.paused = true
	l.paused = append(l.paused, c)
	l.setReadInterest(c, false)
}

// blocked reports whether limit k still holds c's input.
func (l *loop) blocked(c *client, k limitKind) bool {
	cfg := &l.srv.cfg
	x := l.inputIf(c)
	if x == nil {
		return false
	}
	switch k {
	case limPublishRate:
		now := l.now.UnixNano()
		return cfg.PublishRate > 0 && x.pubMsgs.inDebt(now, cfg.PublishRate, msgBurst(cfg)) ||
			cfg.PublishBytesRate > 0 && x.pubBytes.inDebt(now, cfg.PublishBytesRate, cfg.PublishBytesRate)
	case limBacklog:
		return x.waitOn != nil && x.waitOn.backlog.Load() > int64(cfg.MaxLoopBacklog/2)
	case limOutbound:
		return c.queuedBytes() > cfg.MaxOutboundBytes/2
	case limInboundBytes:
		// Reserve before reading again: re-arming a connection only to
		// pause it again would let gnet read another chunk each time.
		if c.gc == nil {
			return false
		}
		n := c.gc.InboundBuffered()
		head, _ := c.gc.Peek(min(n, 5))
		h, err := codec.ParseFixedHeader(head)
		if err != nil || h.HeaderLen+h.Remaining <= n {
			return false
		}
		if !l.reserve(c, h.HeaderLen+h.Remaining) {
			l.srv.outMu.Lock()
			if l.srv.inLoops == nil {
				l.srv.inLoops = make(map[*loop]struct{})
			}
			l.srv.inLoops[l] = struct{}{}
			l.srv.inWaiting.Store(true)
			l.srv.outMu.Unlock()
			return true
		}
	}
	return false
}

// checkPaused resumes the paused connections whose limits cleared. Owner
// only; the caller ends the turn.
func (l *loop) checkPaused() {
	if len(l.paused) == 0 {
		return
	}
	list := l.paused
	l.paused = nil
	for i, c := range list {
		list[i] = nil
		x := l.inputIf(c)
		if x == nil || !x.paused || c.state == stateClosed {
			if x != nil && x.pauseWhy&(1<<limOutbound) != 0 {
				l.outPaused--
				x.pauseWhy = 0
			}
			continue
		}
		for k := limitKind(0); k < limKinds; k++ {
			if x.pauseWhy&(1<<k) != 0 && !l.blocked(c, k) {
				x.pauseWhy &^= 1 << k
				if k == limOutbound {
					l.outPaused--
				}
			}
		}
		if x.pauseWhy != 0 {
			l.paused = append(l.paused, c)
			continue
		}
		x.waitOn = nil
		x.paused = false
		l.setReadInterest(c, true)
		c.resumeInput()
	}
}

// processBuffered handles every complete packet gnet holds for c and drops
// the bytes used. gnet connections only, on their loop.
//
// The work per read is proportional to the bytes read: while the packet at
// the head is incomplete only its fixed header is peeked (gnet copies a
// peek that spans its ring buffer's end, and a whole-buffer peek on every
// read of a dribbled 1 MB packet was quadratic). The incomplete packet's
// declared size is reserved against MaxInboundBytes; when that is spent the
// connection is paused until other packets complete.
func (c *client) processBuffered() {
	l, gc := c.l, c.gc
	for !c.inputPaused() && !c.closing && c.state != stateClosed && c.state != stateAttaching && c.state != stateChecking {
		n := gc.InboundBuffered()
		if n == 0 {
			l.releaseInbound(c)
			return
		}
		if c.x == nil || !c.x.proxyPending {
			head, _ := gc.Peek(min(n, 5))
			h, err := codec.ParseFixedHeader(head)
			if err == codec.ErrIncomplete {
				return // at most 4 bytes: nothing to reserve
			}
			if err == nil {
				if total := h.HeaderLen + h.Remaining; total > n {
					if total <= l.packetLimit(c) && !l.reserve(c, total) {
						l.pauseInput(c, limInboundBytes, "incomplete packets of all connections hold the maximum")
					}
					if total <= l.packetLimit(c) {
						return // wait for the rest
					}
					// Too large: process refuses it from the header alone.
					n = len(head)
				}
			}
			// A malformed header is refused by process, too.
		}
		buf, _ := gc.Peek(n)
		used, closeNow := l.process(c, buf)
		if used > 0 {
			l.releaseInbound(c)
			_, _ = gc.Discard(used) // never Discard(0): gnet treats n <= 0 as "all"
		}
		if closeNow {
			l.releaseInbound(c)
			c.end()
			return
		}
		if used == 0 {
			return
		}
	}
}

// packetLimit is the largest packet c may send now: MaxConnectPacket until
// the connection is accepted, so an unauthenticated peer cannot make the
// broker hold MaxPacketSize bytes.
func (l *loop) packetLimit(c *client) int {
	if c.state == stateConnected {
		return l.srv.cfg.MaxPacketSize
	}
	return l.srv.cfg.MaxConnectPacket
}

// reserve holds total bytes of MaxInboundBytes for c's incomplete packet.
func (l *loop) reserve(c *client, total int) bool {
	if x := l.inputIf(c); x != nil && x.reserved == total {
		return true
	}
	l.releaseInbound(c)
	in := &l.srv.inbound
	if in.Add(int64(total)) > l.srv.cfg.MaxInboundBytes {
		in.Add(-int64(total))
		return false
	}
	l.input(c).reserved = total
	return true
}

// releaseInbound gives c's reservation back.
func (l *loop) releaseInbound(c *client) {
	if x := l.inputIf(c); x != nil && x.reserved != 0 {
		l.srv.inbound.Add(-int64(x.reserved))
		x.reserved = 0
		if l.srv.inWaiting.Load() {
			l.srv.wakeInbound()
		}
	}
}

// wakeInbound has the loops with connections paused by MaxInboundBytes try
// again at the next output tick, now that some budget was released.
func (srv *Server) wakeInbound() {
	srv.outMu.Lock()
	if srv.outLoops == nil {
		srv.outLoops = make(map[*loop]struct{})
	}
	for l := range srv.inLoops {
		srv.outLoops[l] = struct{}{}
		delete(srv.inLoops, l)
	}
	srv.inWaiting.Store(false)
	srv.outMu.Unlock()
	select {
	case srv.outWake <- struct{}{}:
	default:
	}
}

// chargePublish counts one PUBLISH of n payload bytes against c's
// PublishRate and PublishBytesRate; past either, c is not read until the
// debt is paid (the excess is delayed, not dropped).
func (l *loop) chargePublish(c *client, n int) {
	cfg := &l.srv.cfg
	x := l.input(c)
	now := l.now.UnixNano()
	debt := cfg.PublishRate > 0 && x.pubMsgs.charge(now, cfg.PublishRate, msgBurst(cfg), 1)
	if cfg.PublishBytesRate > 0 && x.pubBytes.charge(now, cfg.PublishBytesRate, cfg.PublishBytesRate, float64(n)) {
		debt = true
	}
	if debt {
		l.pauseInput(c, limPublishRate, "publishes faster than the per-client publish rate")
	}
}

// msgBurst is the PublishRate bucket's size: one second's worth, at least 1.
func msgBurst(cfg *Config) float64 { return max(cfg.PublishRate, 1) }

// outputTick is how often a loop waiting for a socket to drain looks again.
// gnet says nothing when it has written what it held, so a loop with paused
// or retained-pacing connections asks the output ticker to wake it.
const outputTick = 5 * time.Millisecond

// wantOutputTick asks the output ticker to post l.outputCheck soon. Owner.
func (l *loop) wantOutputTick() {
	if l.outWanted {
		return
	}
	l.outWanted = true
	srv := l.srv
	srv.outMu.Lock()
	if srv.outLoops == nil {
		srv.outLoops = make(map[*loop]struct{})
	}
	srv.outLoops[l] = struct{}{}
	srv.outMu.Unlock()
	select {
	case srv.outWake <- struct{}{}:
	default:
	}
}

// outputCheck runs on the loop when the output ticker wakes it.
func (l *loop) outputCheck() {
	l.outWanted = false
	l.checkPaused()
	l.sendRetainedQueued()
}

// outputTicker wakes, every outputTick while any asks, the loops waiting for
// a socket to drain; idle otherwise (no timer runs when nothing waits).
func (srv *Server) outputTicker() {
	t := time.NewTimer(outputTick)
	defer t.Stop()
	var ls []*loop
	for {
		select {
		case <-srv.stop:
			return
		case <-srv.outWake:
		}
		for {
			t.Reset(outputTick)
			select {
			case <-srv.stop:
				return
			case <-t.C:
			}
			ls = ls[:0]
			srv.outMu.Lock()
			for l := range srv.outLoops {
				ls = append(ls, l)
				delete(srv.outLoops, l)
			}
			srv.outMu.Unlock()
			if len(ls) == 0 {
				break
			}
			for _, l := range ls {
				l.post(l.outputCheck)
			}
		}
	}
}

// scheduleOutput decides when a loop with paced or paused connections looks
// again: at once (a task behind the other events) while some socket took
// everything it was given, else at the next output tick. Owner only.
func (l *loop) scheduleOutput() {
	now := false
	for _, c := range l.retainedWait {
		if !c.gnetHolds && c.out == nil {
			now = true
			break
		}
	}
	if now && !l.retainedRun {
		l.retainedRun = true
		l.post(func() { l.retainedRun = false; l.sendRetainedQueued() })
		return
	}
	l.wantOutputTick()
}

// inputState is what the input limits keep for a connection that has met
// one: it lives in its loop's inputs, indexed from clientExtra.in, so that
// clientExtra (which most connections hold) does not grow. Owner only.
type inputState struct {
	paused   bool   // the connection's input is not read
	pauseWhy uint16 // bit per limitKind holding the input paused
	reserved int    // bytes of MaxInboundBytes reserved for the incomplete packet in hand
	waitOn   *loop  // the loop whose backlog paused this publisher
	pubMsgs  bucket // PublishRate
	pubBytes bucket // PublishBytesRate
	// retained messages of new subscriptions still to send, paced by the
	// socket (retain.go)
	retainedQ []*retainedBatch
}

// inputIf returns c's inputState, or nil. Owner only.
func (l *loop) inputIf(c *client) *inputState {
	if c.x == nil || c.x.in == 0 {
		return nil
	}
	return l.inputs[c.x.in-1]
}

// input returns c's inputState, making one on first use. Owner only.
func (l *loop) input(c *client) *inputState {
	if x := l.inputIf(c); x != nil {
		return x
	}
	x := &inputState{}
	if n := len(l.inputsFree); n > 0 {
		i := l.inputsFree[n-1]
		l.inputsFree = l.inputsFree[:n-1]
		l.inputs[i-1] = x
		c.ext().in = i
		return x
	}
	l.inputs = append(l.inputs, x)
	c.ext().in = uint32(len(l.inputs))
	return x
}

// freeInput forgets c's inputState once c has closed. Owner only.
func (l *loop) freeInput(c *client) {
	if c.x == nil || c.x.in == 0 {
		return
	}
	if x := l.inputs[c.x.in-1]; x.pauseWhy&(1<<limOutbound) != 0 {
		l.outPaused-- // checkPaused will not see it again
	}
	l.inputs[c.x.in-1] = nil
	l.inputsFree = append(l.inputsFree, c.x.in)
	c.x.in = 0
}
