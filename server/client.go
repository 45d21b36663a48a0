package server

import (
	"net"

	"github.com/panjf2000/gnet/v2"

	"github.com/cp7/cp7/pool"
)

// transport writes to and closes a connection served on a goroutine (TLS,
// WebSocket). gnet connections are held directly in client.gc instead, so an
// idle gnet connection costs no extra allocation. All methods are owner only.
type transport interface {
	// write sends b; b may be reused when write returns.
	write(b []byte) error
	// close ends the connection; the serving goroutine then reports it.
	close()
	// resumeInput lets the reader go on after a session was attached.
	resumeInput()
}

type clientState uint8

const (
	stateNew       clientState = iota // waiting for CONNECT
	stateAuth                         // v5 enhanced authentication in progress
	stateChecking                     // CONNECT waits for an auth worker's answer
	stateAttaching                    // CONNECT accepted, session being attached
	stateConnected                    // CONNACK sent
	stateClosed                       // gone; late tasks ignore it
)

// client is one network connection speaking MQTT. Owner only. It is kept small
// (80 bytes) because a million of them sit idle: everything an idle 3.1.1
// connection on gnet does not need lives in x, allocated on first use.
type client struct {
	l          *loop
	gc         gnet.Conn // the gnet connection, or nil for goroutine transports
	sess       *session
	lastActive int64        // Unix milliseconds of the last packet (the open time before CONNECT)
	out        *pool.Buffer // bytes for this turn; nil when idle
	x          *clientExtra
	v5         *v5state // nil for 3.1/3.1.1 clients
	keepAlive  uint16
	state      clientState // (the one-byte fields fill the padding around wheelDue:
	version    byte        // the struct stays at 80 bytes, one size class lower than 88)
	wheelDue   uint32      // Unix second of the client's current wheel entry; older entries are stale
	dirty      bool
	// closing is set once the broker decided to end the connection; graceful
	// records a DISCONNECT from the client (no will) and tookOver a take-over
	// (the session lives on elsewhere).
	closing, graceful, tookOver, ended, wantClose bool
	// gnetHolds is set when gnet buffered some of our bytes (the socket
	// was full); until gnet reports its buffer empty, writes go through
	// gnet to keep the order. While clear, nothing needs gnet's connection
	// struct, which for a quiet subscriber is cold in the cache.
	gnetHolds bool
	// why is the first reason recorded for the connection's end (metrics).
	why closeReason
}

// clientExtra holds what only some connections need.
type clientExtra struct {
	t            transport // goroutine transports (TLS, WebSocket)
	remote       net.Addr  // when not gc.RemoteAddr(): PROXY header, goroutine transports
	user         string
	will         *will
	cn           string     // verified TLS client certificate CN
	auth         *authState // enhanced authentication in progress
	authMethod   string     // v5 method the client authenticated with
	proxyPending bool       // a PROXY header is expected before MQTT
	listener     uint8      // lstTLS, lstWS, ... (gnet connections are lstTCP); fills padding
	acl          *clientACL // topic rules from authentication, cached view (server/authorize.go)
}

func (c *client) ext() *clientExtra {
	if c.x == nil {
		c.x = &clientExtra{}
	}
	return c.x
}

// setWhy records why the connection ends, unless a reason came first.
func (c *client) setWhy(r closeReason) {
	if c.why == closeUnknown {
		c.why = r
	}
}

// listener is the index of the listener the connection came through.
func (c *client) listener() uint8 {
	if c.gc != nil {
		return lstTCP
	}
	if c.x != nil && c.x.listener != 0 {
		return c.x.listener
	}
	return lstOther
}

// remoteAddr is the client's address as reported (logs, auth).
func (c *client) remoteAddr() net.Addr {
	if c.x != nil && c.x.remote != nil {
		return c.x.remote
	}
	if c.gc != nil {
		return c.gc.RemoteAddr()
	}
	return nil
}

// clientID is the client identifier of the attached session, or "".
func (c *client) clientID() string {
	if c.sess == nil {
		return ""
	}
	return c.sess.id
}

func (c *client) username() string {
	if c.x == nil {
		return ""
	}
	return c.x.user
}

func (c *client) commonName() string {
	if c.x == nil {
		return ""
	}
	return c.x.cn
}

// takeWill returns the connection's will and forgets it.
func (c *client) takeWill() *will {
	if c.x == nil {
		return nil
	}
	w := c.x.will
	c.x.will = nil
	return w
}

// buf returns the connection's buffer for this turn, to append packets to;
// setBuf stores the result. The connection is flushed by endTurn.
func (c *client) buf() []byte {
	if c.out == nil {
		c.out = pool.Get()
	}
	c.l.markDirty(c)
	return c.out.B
}

func (c *client) setBuf(b []byte) { c.out.B = b }

// flush writes the turn's bytes in one write, then closes the connection if
// asked. Called by endTurn only, so that no write (which may run OnClose
// inside gnet) happens while a packet is being handled. Owner only.
func (c *client) flush() {
	if b := c.out; b != nil {
		c.out = nil
		if c.state != stateClosed && len(b.B) > 0 {
			var err error
			if c.gc != nil {
				err = c.writeGnet(b.B)
			} else {
				err = c.x.t.write(b.B)
			}
			if err != nil {
				c.closing = true
			} else {
				c.l.count.netOut += uint64(len(b.B))
			}
		}
		pool.Put(b)
	}
	if c.wantClose && c.state != stateClosed {
		c.wantClose = false
		if c.gc != nil {
			_ = c.gc.Close()
		} else {
			c.x.t.close()
		}
	}
}

// queuedBytes is what waits for this connection: this turn's bytes plus what
// the transport could not write yet.
func (c *client) queuedBytes() int {
	n := 0
	if c.gnetHolds {
		n = c.gc.OutboundBuffered()
	}
	if c.out != nil {
		n += len(c.out.B)
	}
	return n
}

// end closes the connection at the end of this turn, after what was written
// is flushed. The transport reports the close through loop.closed, which
// runs the will and session bookkeeping. Owner only.
func (c *client) end() {
	if c.state == stateClosed || c.ended {
		return
	}
	c.ended, c.closing, c.wantClose = true, true, true
	c.l.markDirty(c)
}

// resumeInput processes input that arrived while the session was attached.
func (c *client) resumeInput() {
	if c.gc == nil {
		c.x.t.resumeInput()
		return
	}
	c.processBuffered()
}

// processBuffered handles every complete packet gnet holds for c and drops
// the bytes used. gnet connections only, on their loop.
func (c *client) processBuffered() {
	buf, _ := c.gc.Peek(-1)
	if len(buf) == 0 {
		return
	}
	n, closeNow := c.l.process(c, buf)
	if n > 0 {
		_, _ = c.gc.Discard(n) // never Discard(0): gnet treats n <= 0 as "all"
	}
	if closeNow {
		c.end()
	}
}
