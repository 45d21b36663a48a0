package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// client is one MQTT connection. Its reader goroutine owns the frameReader;
// writes go straight to the net.Conn, whose Write is atomic per call (a
// *tls.Conn's too, under its output lock), so the publisher, the reader
// (acks) and the pinger never interleave inside a packet.
type client struct {
	n      *node
	global int // position among the run's clients (source address)
	idx    int // %i and client id number
	id     string
	sub    bool
	conn   net.Conn

	lastWrite atomic.Int64 // node nanotime of the last write
	dead      atomic.Bool

	// Publishers only.
	topic   []byte
	fan     int           // deliveries per publish, -1 unknown
	wake    chan struct{} // pacer -> publisher, capacity 1
	slots   chan struct{} // QoS 1/2 in-flight window
	nextDue atomic.Int64  // node nanotime when the next message is due
}

// idleBuf is the read buffer of a client that expects only acks and pings;
// active clients start at activeBuf. Both grow when a read fills them.
const (
	idleBuf   = 128
	activeBuf = 16 << 10
	maxBuf    = 256 << 10
)

// handshake dials, sends CONNECT, waits for CONNACK and, for a subscriber,
// sends SUBSCRIBE and waits for SUBACK, all under -connect-timeout.
func (c *client) handshake() (*frameReader, error) {
	cfg := c.n.cfg
	deadline := time.Now().Add(cfg.connTO)
	conn, err := c.n.dial(c.global, deadline)
	if err != nil {
		return nil, fmt.Errorf("cp7bench: client %s: dial %s: %v", c.id, cfg.addr(), err)
	}
	c.conn = conn
	fail := func(format string, args ...any) (*frameReader, error) {
		conn.Close()
		return nil, fmt.Errorf("cp7bench: client %s: "+format, append([]any{c.id}, args...)...)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fail("set deadline: %v", err)
	}
	version := byte(cfg.version)
	if _, err := conn.Write(appendConnect(make([]byte, 0, 64), cfg, c.idx, c.id)); err != nil {
		return fail("send CONNECT: %v", err)
	}
	size := idleBuf
	if cfg.mode != "conn" {
		size = activeBuf
	}
	fr := newFrameReader(conn, size)
	h, body, err := fr.read()
	if err != nil {
		return fail("waiting for CONNACK: %v", err)
	}
	if h.typ != pktConnack {
		return fail("expected CONNACK, got packet type %d", h.typ)
	}
	code, err := connackCode(body, version)
	if err != nil {
		return fail("bad CONNACK: %v", err)
	}
	if code != 0 {
		return fail("broker refused the connection with code 0x%02x", code)
	}
	if c.sub && cfg.mode != "conn" {
		filter := cfg.topic
		if cfg.mode == "pubsub" {
			filter = cfg.filter
		}
		filter = expand(filter, c.idx, c.id)
		if _, err := conn.Write(appendSubscribe(nil, version, 1, filter, byte(cfg.qos))); err != nil {
			return fail("send SUBSCRIBE: %v", err)
		}
		h, body, err := fr.read()
		// With -clean=false a session may deliver stored messages first.
		for skip := 0; err == nil && h.typ == pktPublish && skip < 1<<16; skip++ {
			h, body, err = fr.read()
		}
		if err != nil {
			return fail("waiting for SUBACK: %v", err)
		}
		if h.typ != pktSuback {
			return fail("expected SUBACK, got packet type %d", h.typ)
		}
		code, err := subackCode(body, version)
		if err != nil {
			return fail("bad SUBACK: %v", err)
		}
		if code >= 0x80 {
			return fail("broker refused the subscription to %q with code 0x%02x", filter, code)
		}
	}
	if !c.sub && cfg.qos > 0 {
		c.slots = make(chan struct{}, cfg.window)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fail("clear deadline: %v", err)
	}
	c.lastWrite.Store(c.n.nanotime())
	return fr, nil
}

// write sends b; a failure marks the client dead.
func (c *client) write(b []byte) bool {
	if c.dead.Load() {
		return false
	}
	if _, err := c.conn.Write(b); err != nil {
		c.lost(fmt.Errorf("write: %w", err))
		return false
	}
	c.lastWrite.Store(c.n.nanotime())
	return true
}

// lost records that the connection ended before stop.
func (c *client) lost(err error) {
	if !c.dead.CompareAndSwap(false, true) {
		return
	}
	c.n.up.Add(-1)
	if c.n.stopping.Load() {
		return
	}
	c.n.errN.Add(1)
	c.n.errs.printf("cp7bench: client %s lost its connection: %v", c.id, err)
	c.conn.Close()
}

// close sends DISCONNECT (best effort, 1 s) and closes.
func (c *client) close(disc []byte) {
	if c.dead.CompareAndSwap(false, true) {
		c.n.up.Add(-1)
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.conn.Write(disc)
	}
	_ = c.conn.Close()
}

var errBrokerDisconnect = errors.New("the broker sent DISCONNECT")

// readLoop handles everything the broker sends after the handshake. It
// counts deliveries and their latency once per read, and answers QoS 1/2
// with one write per read.
func (c *client) readLoop(fr *frameReader) {
	defer c.n.readers.Done()
	n := c.n
	version := byte(n.cfg.version)
	var acks []byte
	for {
		if err := fr.fill(); err != nil {
			c.lost(err)
			return
		}
		now := time.Now().UnixNano()
		var recv, acked int64
		for {
			h, body, ok, err := fr.next()
			if err != nil {
				c.lost(err)
				return
			}
			if !ok {
				break
			}
			switch h.typ {
			case pktPublish:
				qos, id, payload, err := decodePublish(h.flags, body, version)
				if err != nil {
					c.lost(err)
					return
				}
				recv++
				if len(payload) >= 8 {
					lat := now - int64(binary.BigEndian.Uint64(payload))
					n.hist.Record(uint64(max(lat, 0)))
				}
				switch qos {
				case 1:
					acks = appendAck(acks, pktPuback, id, version)
				case 2:
					acks = appendAck(acks, pktPubrec, id, version)
				}
			case pktPubrel:
				id, _, err := decodeAck(h.typ, body, version)
				if err != nil {
					c.lost(err)
					return
				}
				acks = appendAck(acks, pktPubcomp, id, version)
			case pktPubrec:
				id, code, err := decodeAck(h.typ, body, version)
				if err != nil {
					c.lost(err)
					return
				}
				if code >= 0x80 { // the flow ends here [MQTT-4.3.3-4]
					acked += c.release(code)
					continue
				}
				acks = appendAck(acks, pktPubrel, id, version)
			case pktPuback, pktPubcomp:
				_, code, err := decodeAck(h.typ, body, version)
				if err != nil {
					c.lost(err)
					return
				}
				acked += c.release(code)
			case pktPingresp:
			case pktDisconnect:
				c.lost(errBrokerDisconnect)
				return
			default:
				c.lost(fmt.Errorf("unexpected packet type %d", h.typ))
				return
			}
		}
		if recv > 0 {
			n.recv.Add(recv)
		}
		if acked > 0 {
			n.acked.Add(acked)
		}
		if len(acks) > 0 {
			if !c.write(acks) {
				return
			}
			acks = acks[:0]
		}
		if fr.tail == len(fr.buf) && len(fr.buf) < maxBuf {
			fr.grow(2 * len(fr.buf)) // the last read filled the buffer
		}
	}
}

// release frees one in-flight slot; an error reason counts as an error and
// not as acked.
func (c *client) release(code byte) int64 {
	select {
	case <-c.slots:
	default:
	}
	if code >= 0x80 {
		c.n.errN.Add(1)
		c.n.errs.printf("cp7bench: client %s: broker rejected a publish with reason 0x%02x", c.id, code)
		return 0
	}
	return 1
}

// publishLoop writes this publisher's messages when the pacer says one is
// due: all that are due in one batch (one write per 64 KiB), each stamped
// with the wall clock in its first 8 payload bytes.
func (c *client) publishLoop(start int64) {
	n := c.n
	cfg := n.cfg
	defer n.writers.Done()
	defer n.publisherDone()
	version, qos := byte(cfg.version), byte(cfg.qos)
	nsPerMsg := float64(time.Second) / cfg.rate
	backlog := max(int64(cfg.rate/10), 1) // at most 100 ms of catching up
	payload := make([]byte, cfg.size)
	buf := make([]byte, 0, 64<<10)
	var sched, pending int64
	var id uint16
	flush := func() bool {
		if len(buf) == 0 {
			return true
		}
		ok := c.write(buf)
		buf = buf[:0]
		if ok {
			n.sent.Add(pending)
			if c.fan > 0 {
				n.expect.Add(pending * int64(c.fan))
			}
		}
		pending = 0
		return ok
	}
	for {
		select {
		case <-c.wake:
		case <-n.pubStop:
			flush()
			return
		}
		due := int64(float64(n.nanotime()-start)/nsPerMsg) + 1 - sched
		if due <= 0 {
			continue
		}
		if due > backlog {
			n.skipped.Add(due - backlog)
			sched += due - backlog
			due = backlog
		}
		got := n.take(due)
		for k := int64(0); k < got; k++ {
			if qos > 0 {
				select {
				case c.slots <- struct{}{}:
				default:
					if !flush() {
						return
					}
					select {
					case c.slots <- struct{}{}:
					case <-n.pubStop:
						return
					}
				}
				if id++; id == 0 {
					id = 1
				}
			}
			if len(payload) >= 8 {
				binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
			}
			buf = appendPublish(buf, version, qos, cfg.retain, id, c.topic, payload)
			pending++
			if len(buf) >= 64<<10 && !flush() {
				return
			}
		}
		if !flush() {
			return
		}
		sched += due
		c.nextDue.Store(start + int64(float64(sched)*nsPerMsg))
		if got < due {
			return // the -L budget is used up
		}
	}
}
