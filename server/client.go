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
	stateAttaching                    // CONNECT accepted, session being attached
	stateConnected                    // CONNACK sent
	stateClosed                       // gone; late tasks ignore it
)

// client is one network connection speaking MQTT. Owner only. It is kept small
// because a million of them sit idle: everything optional is a pointer or a
// nil slice until used.
type client struct {
	l       *loop
	gc      gnet.Conn // the gnet connection, or nil
	t       transport // the goroutine transport, or nil
	sess    *session
	remote  net.Addr
	id      string
	user    string
	state   clientState
	version byte
	dirty   bool
	// closing is set once the broker decided to end the connection; graceful
	// records a DISCONNECT from the client (no will) and tookOver a take-over
	// (the session lives on elsewhere).
	closing, graceful, tookOver, ended, wantClose bool
	keepAlive                                     uint16
	lastActive                                    int64 // Unix seconds of the last packet received
	openedAt                                      int64
	out                                           *pool.Buffer // bytes for this turn; nil when idle
	will                                          *will
	v5                                            *v5state // nil for 3.1/3.1.1 clients
	proxy                                         *proxyState
	cn                                            string     // TLS client certificate CN
	auth                                          *authState // enhanced authentication in progress
	authMethod                                    string     // v5 method the client authenticated with
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
				_, err = c.gc.Write(b.B)
			} else {
				err = c.t.write(b.B)
			}
			if err != nil {
				c.closing = true
			}
		}
		pool.Put(b)
	}
	if c.wantClose && c.state != stateClosed {
		c.wantClose = false
		if c.gc != nil {
			_ = c.gc.Close()
		} else {
			c.t.close()
		}
	}
}

// queuedBytes is what waits for this connection: this turn's bytes plus what
// the transport could not write yet.
func (c *client) queuedBytes() int {
	n := 0
	if c.gc != nil {
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
	if c.t != nil {
		c.t.resumeInput()
		return
	}
	buf, _ := c.gc.Peek(-1)
	if len(buf) == 0 {
		return
	}
	n, closeNow := c.l.process(c, buf)
	_, _ = c.gc.Discard(n)
	if closeNow {
		c.end()
	}
}
