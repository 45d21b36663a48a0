package server_test

// TestStressQoSGuarantees hunts for lost and duplicated QoS 1/2 messages in
// the broker's ownership and migration logic: subscribers with persistent
// sessions are disconnected, taken over and moved between gnet loops,
// goroutine (ServeConn) loops and the parking loop while publishers keep
// publishing to them. Every client is a raw socket driven with the codec, so
// each acknowledgement is explicit and may be delayed, reordered or lost
// with the connection.
//
// Replay the random decisions of a failed run with CP7_STRESS_SEED=<seed>
// (the interleaving of goroutines is not replayed, only the choices).

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

const (
	stressSubs      = 12               // subscriber client ids
	stressV5Subs    = 4                // of which MQTT 5 (session expiry 0xFFFFFFFF)
	stressPubs      = 4                // publishers
	stressChaos     = 5 * time.Second  // how long publishers publish at most
	stressMaxPerPub = 20000            // publishes per publisher at most
	stressMaxSteps  = 5000             // churn steps per subscriber at most
	stressInflight  = 8                // broker MaxInflight: small, so windows fill and queues form
	stressWait      = 10 * time.Second // for any one expected packet, and for the final drain
	stressTraceLen  = 40               // recent events kept per subscriber for failure reports
)

// errStressIdle is stressConn.next's "nothing arrived in time".
var errStressIdle = errors.New("stress: no packet before the deadline")

// Transports a client can reach the broker by.
const (
	stressGnet   = "gnet"   // TCP to the gnet listener
	stressPipe   = "pipe"   // net.Pipe served by srv.ServeConn
	stressGoTCP  = "go-tcp" // TCP served by srv.ServeConn
	stressNKinds = 3
)

// stressConn is a raw MQTT connection whose reader goroutine queues every
// packet as it arrives, so that the broker never blocks writing to it (a
// net.Pipe has no buffer) while the test writes acknowledgements.
type stressConn struct {
	nc      net.Conn
	kind    string
	version byte
	mu      sync.Mutex
	q       []servertest.Packet
	err     error         // why the reader stopped
	notify  chan struct{} // a packet or the error arrived
	done    chan struct{} // closed when the reader stopped
}

func newStressConn(nc net.Conn, kind string, version byte) *stressConn {
	c := &stressConn{nc: nc, kind: kind, version: version, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go c.readLoop()
	return c
}

func (c *stressConn) readLoop() {
	defer close(c.done)
	var buf []byte
	var chunk [4096]byte
	for {
		n, err := c.nc.Read(chunk[:])
		buf = append(buf, chunk[:n]...)
		for len(buf) > 0 {
			h, perr := codec.ParseFixedHeader(buf)
			if perr == codec.ErrIncomplete {
				break
			}
			if perr != nil {
				err = fmt.Errorf("malformed packet from the broker % x: %w", buf[:min(len(buf), 16)], perr)
				break
			}
			if len(buf) < h.Len() {
				break
			}
			raw := append([]byte(nil), buf[:h.Len()]...)
			buf = buf[h.Len():]
			c.push(servertest.Packet{Header: h, Raw: raw}, nil)
		}
		if err != nil {
			c.push(servertest.Packet{}, err)
			return
		}
	}
}

func (c *stressConn) push(p servertest.Packet, err error) {
	c.mu.Lock()
	if p.Raw != nil {
		c.q = append(c.q, p)
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// next returns the next queued packet, waiting up to timeout; errStressIdle
// if none came, or the read error once the queue is empty and the
// connection ended.
func (c *stressConn) next(timeout time.Duration) (servertest.Packet, error) {
	var timer *time.Timer
	for {
		c.mu.Lock()
		if len(c.q) > 0 {
			p := c.q[0]
			c.q[0] = servertest.Packet{}
			c.q = c.q[1:]
			c.mu.Unlock()
			return p, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return servertest.Packet{}, err
		}
		if timeout <= 0 {
			return servertest.Packet{}, errStressIdle
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		select {
		case <-c.notify:
		case <-timer.C:
			return servertest.Packet{}, errStressIdle
		}
	}
}

func (c *stressConn) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(stressWait))
	_, err := c.nc.Write(b)
	return err
}

func (c *stressConn) close() { _ = c.nc.Close() }

// closedWithin reports whether the connection ended (EOF or error) within d.
func (c *stressConn) closedWithin(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stressMsg is one published message and what became of it.
type stressMsg struct {
	sub   int
	qos   byte // as published
	eff   byte // as it must be delivered: min(published, granted)
	acked bool // the broker took responsibility (PUBACK, PUBREC)
	got   int  // deliveries: QoS 1 receipts; QoS 2 packet id flows
}

// stressLedger records what was published and delivered; safe for
// concurrent use.
type stressLedger struct {
	mu       sync.Mutex
	msgs     map[string]*stressMsg
	missing  [stressSubs]int // acked and not yet delivered, per subscriber
	problems []string
}

func (g *stressLedger) problem(s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.problems) < 100 {
		g.problems = append(g.problems, s)
	}
}

func (g *stressLedger) publish(payload string, m *stressMsg) {
	g.mu.Lock()
	g.msgs[payload] = m
	g.mu.Unlock()
}

func (g *stressLedger) acked(payload string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.msgs[payload]
	if !m.acked {
		m.acked = true
		if m.got == 0 {
			g.missing[m.sub]++
		}
	}
}

// deliver counts one delivery of payload to subscriber sub at qos with the
// DUP flag dup; newFlow is false for a QoS 2 re-send of a packet id flow
// the subscriber already has. It returns what is wrong with the delivery.
func (g *stressLedger) deliver(sub int, payload string, qos byte, dup, newFlow bool) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.msgs[payload]
	switch {
	case m == nil:
		return fmt.Sprintf("received %q, which nobody published", payload)
	case m.sub != sub:
		return fmt.Sprintf("received %q, published to subscriber %d's topic", payload, m.sub)
	case qos != m.eff:
		return fmt.Sprintf("received %q at QoS %d, want %d (published %d)", payload, qos, m.eff, m.qos)
	}
	var bad string
	if m.got > 0 && !dup {
		bad = fmt.Sprintf("received %q again (delivery %d) without DUP [MQTT-3.3.1-1]", payload, m.got+1)
	}
	if !newFlow {
		return bad
	}
	if m.got == 0 && m.acked {
		g.missing[sub]--
	}
	m.got++
	if m.eff == 2 && m.got > 1 {
		bad = fmt.Sprintf("QoS 2 message %q delivered %d times (a new packet id flow each time)", payload, m.got)
	}
	return bad
}

func (g *stressLedger) missingFor(sub int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.missing[sub]
}

// missingList returns up to n acknowledged payloads for sub (or for all
// subscribers when sub < 0) never delivered, sorted.
func (g *stressLedger) missingList(sub, n int) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for p, m := range g.msgs {
		if m.acked && m.got == 0 && (sub < 0 || m.sub == sub) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out[:min(len(out), n)]
}

// stressEnv is one run: the broker, how to reach it, and the ledger.
type stressEnv struct {
	srv      *server.Server
	goAddr   net.Addr
	ledger   *stressLedger
	subQoS   [stressSubs]byte
	pipeWG   sync.WaitGroup // ServeConn goroutines of net.Pipe connections
	connsMu  sync.Mutex
	conns    []net.Conn
	counters struct {
		connects, takeovers, closes, graceful, fences atomic.Int64
		kinds                                         [stressNKinds]atomic.Int64
		delivered, redelivered                        atomic.Int64
	}
}

var stressKinds = [stressNKinds]string{stressGnet, stressPipe, stressGoTCP}

// dial opens a connection of the given kind.
func (e *stressEnv) dial(kind int) (net.Conn, error) {
	var nc net.Conn
	switch stressKinds[kind] {
	case stressGnet:
		c, err := net.DialTimeout("tcp", e.srv.Addr().String(), stressWait)
		if err != nil {
			return nil, err
		}
		nc = c
	case stressGoTCP:
		c, err := net.DialTimeout("tcp", e.goAddr.String(), stressWait)
		if err != nil {
			return nil, err
		}
		nc = c
	case stressPipe:
		cli, srvSide := net.Pipe()
		e.pipeWG.Add(1)
		go func() { defer e.pipeWG.Done(); e.srv.ServeConn(srvSide) }()
		nc = cli
	}
	e.counters.kinds[kind].Add(1)
	e.connsMu.Lock()
	e.conns = append(e.conns, nc)
	e.connsMu.Unlock()
	return nc, nil
}

// connect dials and sends p, and returns the connection once the broker
// accepted it with the given session present flag.
func (e *stressEnv) connect(kind int, p *codec.Connect, present bool) (*stressConn, error) {
	nc, err := e.dial(kind)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", stressKinds[kind], err)
	}
	c := newStressConn(nc, stressKinds[kind], p.ProtocolVersion)
	if err := c.write(codec.AppendConnect(nil, p)); err != nil {
		c.close()
		return nil, fmt.Errorf("write CONNECT over %s: %w", c.kind, err)
	}
	pk, err := c.next(stressWait)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("no CONNACK over %s: %w", c.kind, err)
	}
	var ack codec.Connack
	if pk.Type() != codec.CONNACK {
		c.close()
		return nil, fmt.Errorf("got %v over %s, want CONNACK", pk, c.kind)
	}
	if err := ack.Decode(pk.Body(), c.version); err != nil {
		c.close()
		return nil, fmt.Errorf("bad CONNACK %v: %w", pk, err)
	}
	if ack.ReasonCode != 0 || ack.SessionPresent != present {
		c.close()
		return nil, fmt.Errorf("CONNACK over %s: code %#x, session present %v; want 0, session present %v",
			c.kind, byte(ack.ReasonCode), ack.SessionPresent, present)
	}
	e.counters.connects.Add(1)
	return c, nil
}

// stressSub drives one subscriber client id: its session state as a client
// (QoS 2 packet ids received and not yet released) survives connections.
type stressSub struct {
	e      *stressEnv
	idx    int
	id     string
	topic  string
	v5     bool
	qos    byte
	rng    *rand.Rand
	c      *stressConn
	window int                 // most unacknowledged deliveries c may be sent
	pend2  map[uint16]string   // QoS 2 ids received, PUBREL not yet: payload
	out    map[uint16]struct{} // c: ids sent to us and not finally acknowledged
	defer_ []codec.Ack         // c: acknowledgements held back
	drain  bool                // final phase: acknowledge at once
	trace  []string
}

func (s *stressSub) tracef(format string, args ...any) {
	if len(s.trace) == stressTraceLen {
		copy(s.trace, s.trace[1:])
		s.trace = s.trace[:stressTraceLen-1]
	}
	s.trace = append(s.trace, fmt.Sprintf(format, args...))
}

func (s *stressSub) problem(format string, args ...any) {
	msg := fmt.Sprintf("subscriber %s: ", s.id) + fmt.Sprintf(format, args...)
	s.e.ledger.problem(msg + "\n    recent events of " + s.id + ":\n      " + strings.Join(s.trace, "\n      "))
}

func (s *stressSub) connectPacket(first bool) *codec.Connect {
	if !s.v5 {
		return servertest.NewConnect(s.id, false, 0)
	}
	p := &codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte(s.id), CleanStart: first}
	p.Props.SessionExpiry = 0xFFFFFFFF
	p.Props.Set(codec.PropSessionExpiry)
	rm := []uint16{65535, 8, 3, 1}[s.rng.IntN(4)]
	if rm != 65535 && !s.drain { // the final drain takes the full window
		p.Props.ReceiveMaximum = rm
		p.Props.Set(codec.PropReceiveMaximum)
	}
	return p
}

// connectNew opens a new connection to the session (a take-over when c is
// still open) and makes it current. It returns false if the broker did not
// accept it.
func (s *stressSub) connectNew(first bool) (*stressConn, bool) {
	kind := s.rng.IntN(stressNKinds)
	p := s.connectPacket(first)
	s.tracef("CONNECT over %s (receive max %d)", stressKinds[kind], p.Props.ReceiveMaximum)
	c, err := s.e.connect(kind, p, !first)
	if err != nil {
		s.problem("%v", err)
		return nil, false
	}
	s.window = stressInflight
	if p.Props.Has(codec.PropReceiveMaximum) {
		s.window = min(s.window, int(p.Props.ReceiveMaximum))
	}
	return c, true
}

func (s *stressSub) setConn(c *stressConn) {
	s.c = c
	s.out = make(map[uint16]struct{})
	s.defer_ = s.defer_[:0]
}

// send writes an acknowledgement on the current connection. A write error
// means the connection is gone, which the next read reports.
func (s *stressSub) send(typ codec.PacketType, pid uint16) {
	if typ == codec.PUBACK || typ == codec.PUBCOMP {
		delete(s.out, pid)
	}
	_ = s.c.write(codec.AppendAck(nil, &codec.Ack{Type: typ, PacketID: pid}, s.c.version))
}

func (s *stressSub) ackOrDefer(typ codec.PacketType, pid uint16) {
	if s.drain || s.rng.IntN(100) < 85 {
		s.send(typ, pid)
		return
	}
	s.tracef("hold %s %d", typ, pid)
	s.defer_ = append(s.defer_, codec.Ack{Type: typ, PacketID: pid})
}

func (s *stressSub) flushDeferred() {
	s.rng.Shuffle(len(s.defer_), func(i, j int) { s.defer_[i], s.defer_[j] = s.defer_[j], s.defer_[i] })
	for _, a := range s.defer_ {
		s.send(a.Type, a.PacketID)
	}
	if len(s.defer_) > 0 {
		s.tracef("sent %d held acks", len(s.defer_))
	}
	s.defer_ = s.defer_[:0]
}

// inflight records that id is unacknowledged on the live connection and
// checks the broker's window [MQTT-3.3.4-9].
func (s *stressSub) inflight(pid uint16, what string) {
	s.out[pid] = struct{}{}
	if len(s.out) > s.window {
		s.problem("%s %d: %d unacknowledged deliveries, window is %d [MQTT-3.3.4-9]", what, pid, len(s.out), s.window)
	}
}

// handle processes one packet from c; live is false for a connection that
// was taken over (its acknowledgements would go nowhere).
func (s *stressSub) handle(c *stressConn, pk servertest.Packet, live bool) codec.PacketType {
	switch pk.Type() {
	case codec.PUBLISH:
		var m codec.Publish
		if err := m.Decode(pk.Header.Flags, pk.Body(), c.version); err != nil {
			s.problem("bad PUBLISH %v: %v", pk, err)
			return pk.Type()
		}
		payload := string(m.Payload)
		s.tracef("PUBLISH id %d q%d dup %v %q over %s live %v", m.PacketID, m.QoS, m.Dup, payload, c.kind, live)
		if string(m.Topic) != s.topic {
			s.problem("PUBLISH %q on topic %q, subscribed to %q only", payload, m.Topic, s.topic)
		}
		if m.QoS == 0 {
			s.problem("PUBLISH %q at QoS 0; only QoS 1 and 2 were published", payload)
			return pk.Type()
		}
		if live {
			if _, busy := s.out[m.PacketID]; busy {
				s.problem("PUBLISH %q with id %d, still unacknowledged on this connection [MQTT-2.2.1-3]", payload, m.PacketID)
			}
			s.inflight(m.PacketID, "PUBLISH")
		}
		newFlow := true
		if m.QoS == 2 {
			if prev, ok := s.pend2[m.PacketID]; ok {
				newFlow = false // a re-send before PUBREL: not a new delivery
				if prev != payload {
					s.problem("QoS 2 PUBLISH %q with id %d, whose flow for %q is still open (PUBREL not received)", payload, m.PacketID, prev)
				}
			} else {
				s.pend2[m.PacketID] = payload
			}
		}
		if newFlow {
			s.e.counters.delivered.Add(1)
		} else {
			s.e.counters.redelivered.Add(1)
		}
		if bad := s.e.ledger.deliver(s.idx, payload, m.QoS, m.Dup, newFlow); bad != "" {
			s.problem("%s", bad)
		}
		if live {
			if m.QoS == 1 {
				s.ackOrDefer(codec.PUBACK, m.PacketID)
			} else {
				s.ackOrDefer(codec.PUBREC, m.PacketID)
			}
		}
	case codec.PUBREL:
		var a codec.Ack
		if err := a.Decode(codec.PUBREL, pk.Body(), c.version); err != nil {
			s.problem("bad PUBREL %v: %v", pk, err)
			return pk.Type()
		}
		s.tracef("PUBREL id %d over %s live %v", a.PacketID, c.kind, live)
		delete(s.pend2, a.PacketID) // [MQTT-4.3.3-12 (3.1.1: 4.3.3-2)] the id may be reused now
		if live {
			if _, ok := s.out[a.PacketID]; !ok {
				s.inflight(a.PacketID, "PUBREL")
			}
			s.ackOrDefer(codec.PUBCOMP, a.PacketID)
		}
	case codec.PINGRESP:
	case codec.DISCONNECT:
		if live {
			var d codec.Disconnect
			_ = d.Decode(pk.Body(), c.version)
			s.problem("broker sent DISCONNECT %v on the current connection", d.ReasonCode)
		}
	default:
		s.problem("unexpected %v over %s", pk, c.kind)
	}
	return pk.Type()
}

// lost ends the current connection after the broker closed it.
func (s *stressSub) lost(err error) {
	s.problem("the broker ended the current %s connection: %v", s.c.kind, err)
	s.c.close()
	s.c = nil
}

// pump handles up to n packets, waiting up to idle for each.
func (s *stressSub) pump(n int, idle time.Duration) {
	for range n {
		pk, err := s.c.next(idle)
		if err == errStressIdle {
			return
		}
		if err != nil {
			s.lost(err)
			return
		}
		s.handle(s.c, pk, true)
	}
}

// fence sends PINGREQ and handles packets until the PINGRESP: everything
// the broker had written before it read the PINGREQ has been handled.
func (s *stressSub) fence() {
	s.e.counters.fences.Add(1)
	if err := s.c.write(codec.AppendPingreq(nil)); err != nil {
		s.lost(err)
		return
	}
	deadline := time.Now().Add(stressWait)
	for {
		pk, err := s.c.next(time.Until(deadline))
		if err != nil {
			s.lost(fmt.Errorf("waiting for PINGRESP: %w", err))
			return
		}
		if s.handle(s.c, pk, true) == codec.PINGRESP {
			return
		}
	}
}

// takeOver connects anew while the current connection is open. The broker
// closes the old one before it answers the new one, so everything that came
// on the old one is handled first; its acknowledgements go nowhere.
func (s *stressSub) takeOver() {
	s.e.counters.takeovers.Add(1)
	old := s.c
	c, ok := s.connectNew(false)
	if !old.closedWithin(stressWait) {
		s.problem("the %s connection is still open %v after a take-over [MQTT-3.1.4-3]", old.kind, stressWait)
	}
	old.close()
	for {
		pk, err := old.next(0)
		if err != nil {
			break
		}
		s.handle(old, pk, false)
	}
	s.c = nil
	if ok {
		s.setConn(c)
	}
}

// step does one random thing.
func (s *stressSub) step() {
	if s.c == nil {
		if c, ok := s.connectNew(false); ok {
			s.setConn(c)
		}
		return
	}
	switch r := s.rng.IntN(100); {
	case r < 55:
		s.pump(1+s.rng.IntN(50), 20*time.Millisecond)
	case r < 65:
		s.flushDeferred()
	case r < 75: // abrupt end, maybe right after acknowledgements
		if s.rng.IntN(2) == 0 {
			s.flushDeferred()
		}
		s.tracef("close %s", s.c.kind)
		s.e.counters.closes.Add(1)
		s.c.close()
		s.c = nil
	case r < 85:
		s.takeOver()
	case r < 90: // acknowledgements racing a take-over
		s.flushDeferred()
		s.takeOver()
	case r < 94:
		s.tracef("DISCONNECT %s", s.c.kind)
		s.e.counters.graceful.Add(1)
		_ = s.c.write(codec.AppendDisconnect(nil, &codec.Disconnect{}, s.c.version))
		if !s.c.closedWithin(stressWait) {
			s.problem("the %s connection is still open %v after DISCONNECT", s.c.kind, stressWait)
		}
		s.c.close()
		s.c = nil
	default:
		s.fence()
	}
}

// subscribe makes the session and its subscription (before publishing).
func (s *stressSub) subscribe() bool {
	c, ok := s.connectNew(true)
	if !ok {
		return false
	}
	s.setConn(c)
	p := codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(s.topic), QoS: s.qos}}}
	if err := c.write(codec.AppendSubscribe(nil, &p, c.version)); err != nil {
		s.problem("write SUBSCRIBE: %v", err)
		return false
	}
	pk, err := c.next(stressWait)
	var ack codec.Suback
	if err != nil || pk.Type() != codec.SUBACK || ack.Decode(pk.Body(), c.version) != nil ||
		len(ack.ReasonCodes) != 1 || byte(ack.ReasonCodes[0]) != s.qos {
		s.problem("SUBSCRIBE %s at QoS %d: got %v, %v", s.topic, s.qos, pk, err)
		return false
	}
	return true
}

// run churns until stop is closed, then reconnects one last time and
// drains until every message acknowledged to a publisher has arrived.
func (s *stressSub) run(stop <-chan struct{}) {
	for range stressMaxSteps {
		select {
		case <-stop:
			s.final()
			return
		default:
		}
		s.step()
	}
	<-stop
	s.final()
}

func (s *stressSub) final() {
	s.drain = true
	if s.c != nil && s.rng.IntN(2) == 0 {
		s.takeOver()
	} else {
		if s.c != nil {
			s.c.close()
			s.c = nil
		}
		if c, ok := s.connectNew(false); ok {
			s.setConn(c)
		}
	}
	if s.c == nil {
		s.problem("final reconnect failed")
		return
	}
	s.tracef("final drain over %s", s.c.kind)
	deadline := time.Now().Add(stressWait)
	for s.e.ledger.missingFor(s.idx) > 0 || len(s.pend2) > 0 || len(s.out) > 0 {
		pk, err := s.c.next(time.Until(deadline))
		if err != nil {
			s.problem("final drain: %v with %d messages missing (%v), %d QoS 2 flows open, %d unacknowledged",
				err, s.e.ledger.missingFor(s.idx), s.e.ledger.missingList(s.idx, 10), len(s.pend2), len(s.out))
			return
		}
		s.handle(s.c, pk, true)
	}
	s.fence() // late duplicates
	if s.c != nil {
		_ = s.c.write(codec.AppendDisconnect(nil, &codec.Disconnect{}, s.c.version))
	}
}

// stressPublish publishes up to stressMaxPerPub messages from one client
// until stop, each to a random subscriber's topic, completing each QoS flow
// before the next.
func (e *stressEnv) stressPublish(idx int, rng *rand.Rand, stop <-chan struct{}) {
	kind := idx % stressNKinds
	p := servertest.NewConnect("stress-pub-"+strconv.Itoa(idx), true, 0)
	if idx == stressPubs-1 {
		p = &codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte("stress-pub-" + strconv.Itoa(idx)), CleanStart: true}
	}
	c, err := e.connect(kind, p, false)
	if err != nil {
		e.ledger.problem(fmt.Sprintf("publisher %d: %v", idx, err))
		return
	}
	defer c.close()
	expect := func(typ codec.PacketType, pid uint16) error {
		pk, err := c.next(stressWait)
		if err != nil {
			return fmt.Errorf("waiting for %s %d: %w", typ, pid, err)
		}
		var a codec.Ack
		if pk.Type() != typ || a.Decode(typ, pk.Body(), c.version) != nil || a.PacketID != pid || a.ReasonCode >= 0x80 {
			return fmt.Errorf("got %v, want %s %d", pk, typ, pid)
		}
		return nil
	}
	for seq := range stressMaxPerPub {
		select {
		case <-stop:
			return
		default:
		}
		sub, qos := rng.IntN(stressSubs), byte(1+rng.IntN(2))
		payload := fmt.Sprintf("p%d-%d>s%02d-q%d", idx, seq, sub, qos)
		e.ledger.publish(payload, &stressMsg{sub: sub, qos: qos, eff: min(qos, e.subQoS[sub])})
		pid := uint16(seq%65535 + 1)
		pub := codec.Publish{Topic: []byte(fmt.Sprintf("stress/s%02d", sub)), Payload: []byte(payload), QoS: qos, PacketID: pid}
		if err := c.write(codec.AppendPublish(nil, &pub, c.version)); err != nil {
			e.ledger.problem(fmt.Sprintf("publisher %d: write PUBLISH %q: %v", idx, payload, err))
			return
		}
		ackType := codec.PUBACK
		if qos == 2 {
			ackType = codec.PUBREC
		}
		if err := expect(ackType, pid); err != nil {
			e.ledger.problem(fmt.Sprintf("publisher %d: %q: %v", idx, payload, err))
			return
		}
		e.ledger.acked(payload) // the broker owns it now [MQTT-4.3.2-2, 4.3.3-2]
		if qos == 2 {
			if err := c.write(codec.AppendAck(nil, &codec.Ack{Type: codec.PUBREL, PacketID: pid}, c.version)); err != nil {
				e.ledger.problem(fmt.Sprintf("publisher %d: write PUBREL: %v", idx, err))
				return
			}
			if err := expect(codec.PUBCOMP, pid); err != nil {
				e.ledger.problem(fmt.Sprintf("publisher %d: %q: %v", idx, payload, err))
				return
			}
		}
	}
}

// newStressEnv starts a broker with two gnet loops, a ServeConn TCP
// listener, and a clean-up that closes every connection the test opened.
func newStressEnv(t *testing.T) (*stressEnv, *servertest.Log) {
	srv, lg := servertest.StartLogged(t, func(cfg *server.Config) {
		cfg.EventLoops = 2
		cfg.MaxInflight = stressInflight
		cfg.MaxQueued = 1 << 20 // more than will ever be published: nothing may be dropped
	})
	e := &stressEnv{srv: srv, ledger: &stressLedger{msgs: make(map[string]*stressMsg)}}
	e.goAddr = serveConnListener(t, srv)
	// Runs before serveConnListener's and the broker's clean-ups, which
	// wait for the connections to end.
	t.Cleanup(func() {
		e.connsMu.Lock()
		for _, nc := range e.conns {
			_ = nc.Close()
		}
		e.connsMu.Unlock()
		done := make(chan struct{})
		go func() { e.pipeWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(stressWait):
			t.Errorf("ServeConn of a net.Pipe still running %v after its connection closed", stressWait)
		}
	})
	return e, lg
}

func stressSeed(t *testing.T) uint64 {
	if v := os.Getenv("CP7_STRESS_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CP7_STRESS_SEED=%q: %v (want an unsigned integer)", v, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// TestStressQoSGuarantees: every QoS 1 message the broker acknowledged to
// its publisher reaches its subscriber at least once, every QoS 2 message
// exactly once (one PUBLISH → PUBREC → PUBREL → PUBCOMP flow; re-sends of an
// open flow do not count) [MQTT-4.3.2, 4.3.3, 4.4.0-1], and nothing reaches
// a subscriber of another topic, while the subscribers' sessions are closed,
// taken over and moved between every kind of loop.
func TestStressQoSGuarantees(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test: skipped with -short")
	}
	seed := stressSeed(t)
	t.Logf("seed %d (replay the random choices with CP7_STRESS_SEED=%d)", seed, seed)
	e, lg := newStressEnv(t)
	srv := e.srv

	subs := make([]*stressSub, stressSubs)
	for i := range subs {
		s := &stressSub{e: e, idx: i, id: fmt.Sprintf("stress-s%02d", i), topic: fmt.Sprintf("stress/s%02d", i),
			v5: i < stressV5Subs, qos: byte(1 + i%2), rng: rand.New(rand.NewPCG(seed, uint64(i))),
			pend2: make(map[uint16]string)}
		e.subQoS[i] = s.qos
		if !s.subscribe() {
			t.Fatalf("seed %d: %s", seed, strings.Join(e.ledger.problems, "\n"))
		}
		subs[i] = s
	}

	stopPubs, stopSubs := make(chan struct{}), make(chan struct{})
	var pubs, churn sync.WaitGroup
	for _, s := range subs {
		churn.Add(1)
		go func() { defer churn.Done(); s.run(stopSubs) }()
	}
	for i := range stressPubs {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			e.stressPublish(i, rand.New(rand.NewPCG(seed, uint64(1000+i))), stopPubs)
		}()
	}
	pubsDone := make(chan struct{})
	go func() { pubs.Wait(); close(pubsDone) }()
	select {
	case <-pubsDone:
	case <-time.After(stressChaos):
	}
	close(stopPubs)
	<-pubsDone // each publisher ends after its flow in progress (bounded by stressWait)
	close(stopSubs)
	churn.Wait()

	g := e.ledger
	var published, acked, q2 int
	var missing, dups []string
	for p, m := range g.msgs {
		published++
		if !m.acked {
			continue
		}
		acked++
		if m.eff == 2 {
			q2++
		}
		if m.got == 0 {
			missing = append(missing, p)
		}
		if m.eff == 2 && m.got > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", p, m.got))
		}
	}
	slices.Sort(missing)
	slices.Sort(dups)
	c := &e.counters
	t.Logf("published %d, acknowledged %d (%d of them QoS 2 end to end); deliveries %d, re-sends of open QoS 2 flows %d",
		published, acked, q2, c.delivered.Load(), c.redelivered.Load())
	t.Logf("subscriber connects %d (gnet %d, pipe %d, go-tcp %d), take-overs %d, abrupt closes %d, DISCONNECTs %d, fences %d",
		c.connects.Load(), c.kinds[0].Load(), c.kinds[1].Load(), c.kinds[2].Load(),
		c.takeovers.Load(), c.closes.Load(), c.graceful.Load(), c.fences.Load())
	if len(g.problems) > 0 || len(missing) > 0 || len(dups) > 0 {
		t.Errorf("seed %d (CP7_STRESS_SEED=%d): %d problems, %d acknowledged messages never delivered, %d QoS 2 messages delivered more than once",
			seed, seed, len(g.problems), len(missing), len(dups))
		for _, p := range g.problems {
			t.Errorf("%s", p)
		}
		if len(missing) > 0 {
			t.Errorf("missing: %v", missing[:min(len(missing), 50)])
		}
		if len(dups) > 0 {
			t.Errorf("QoS 2 duplicates: %v", dups[:min(len(dups), 50)])
		}
	}
	st := srv.Stats()
	if st.DroppedQueueFull+st.DroppedOffline+st.DroppedSlow+st.DroppedExpired+st.DroppedTooLarge+st.DroppedBacklog+st.Dropped != 0 {
		t.Errorf("seed %d: the broker dropped messages: %+v", seed, st)
	}
	if st.ProtocolErrors != 0 {
		t.Errorf("seed %d: %d protocol errors, want 0 (every client here follows the protocol)", seed, st.ProtocolErrors)
	}
	for _, w := range [][]string{{"dropping a task"}, {"slow consumer"}} {
		if ls := lg.Lines(w...); len(ls) > 0 {
			t.Errorf("seed %d: the broker logged %q %d times, first: %s", seed, w[0], len(ls), ls[0])
		}
	}
}

// TestStressConcurrentConnects sends CONNECTs for one client id over
// several connections at once, round after round, with the session moving
// between gnet loops and goroutine loops. However the attaches interleave,
// the broker must end with one connection for the id: each attach closes
// the connection that held the session [MQTT-3.1.4-3 (3.1.1: 3.1.4-2)].
//
// It found a race in takeOver: the old owner stored the new owner before
// posting finishAttach to it, and a second attach reading the new owner in
// between ran its take-over there first; finishAttach now checks that its
// loop still owns a free session.
func TestStressConcurrentConnects(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test: skipped with -short")
	}
	seed := stressSeed(t)
	t.Logf("seed %d (replay the random choices with CP7_STRESS_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	e, _ := newStressEnv(t)
	const rounds, ids, perRound = 2000, 4, 3
	deadline := time.Now().Add(stressChaos)
	failures := 0
	for round := 0; round < rounds && time.Now().Before(deadline) && failures < 3; round++ {
		id := fmt.Sprintf("stress-dup-%d", round%ids)
		kinds := make([]int, perRound)
		for k := range kinds {
			kinds[k] = rng.IntN(stressNKinds)
		}
		conns := make([]*stressConn, perRound)
		var wg sync.WaitGroup
		for k := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc, err := e.dial(kinds[k])
				if err != nil {
					e.ledger.problem(fmt.Sprintf("round %d: dial %s: %v", round, stressKinds[kinds[k]], err))
					return
				}
				c := newStressConn(nc, stressKinds[kinds[k]], codec.Version311)
				_ = c.write(codec.AppendConnect(nil, servertest.NewConnect(id, false, 0)))
				conns[k] = c
			}()
		}
		wg.Wait()
		open := func() (n int, desc []string) {
			for _, c := range conns {
				if c == nil {
					continue
				}
				select {
				case <-c.done:
				default:
					n++
					c.mu.Lock()
					desc = append(desc, fmt.Sprintf("%s (%d packets received)", c.kind, len(c.q)))
					c.mu.Unlock()
				}
			}
			return n, desc
		}
		if !servertest.Poll(stressWait, func() bool { n, _ := open(); return n <= 1 }) {
			failures++
			_, desc := open()
			t.Errorf("seed %d, round %d: %d connections of %s still open %v after concurrent CONNECTs over %v: %v",
				seed, round, len(desc), id, stressWait, kinds, desc)
		}
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
	}
	for _, p := range e.ledger.problems {
		t.Errorf("seed %d: %s", seed, p)
	}
}
