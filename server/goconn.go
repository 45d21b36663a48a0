package server

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/cp7/cp7/codec"
)

// goTransport serves one connection on goroutines: TLS and WebSocket, off
// the hot path. The reader goroutine hands each read to the connection's
// loop synchronously, so the loop parses the reader's buffer in place.
type goTransport struct {
	nc      net.Conn
	resumed chan struct{}
	closed  atomic.Bool // the broker closed the connection
}

// writeTimeout bounds a write to a goroutine connection that stopped reading.
const writeTimeout = 30 * time.Second

func (t *goTransport) write(b []byte) error {
	_ = t.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := t.nc.Write(b)
	return err
}

func (t *goTransport) close() { t.closed.Store(true); _ = t.nc.Close() }

func (t *goTransport) resumeInput() {
	select {
	case t.resumed <- struct{}{}:
	default:
	}
}

// peerCN is implemented by TLS connections that verified a client
// certificate (server/listener).
type peerCN interface{ PeerCommonName() string }

// ServeConn drives one MQTT connection over nc until it ends; it blocks. It
// is how the TLS and WebSocket listeners (and tests) feed the broker: the
// same session core, router and registry as the gnet listener.
// nc.RemoteAddr() is reported as the client's address.
func (srv *Server) ServeConn(nc net.Conn) {
	g := newGoLoop()
	l := newConnLoop(srv, g.post)
	srv.addLoop(l)
	defer srv.removeLoop(l)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { g.run(l, stop); close(done) }()

	if !srv.trackConn(nc) {
		_ = nc.Close() // shutting down
		close(stop)
		<-done
		return
	}
	defer srv.untrackConn(nc)
	if k, ok := srv.admit(nc.LocalAddr(), nc.RemoteAddr()); !ok {
		srv.limitHit(k, "", addrString(nc.RemoteAddr()), "connection refused at accept")
		_ = nc.Close()
		close(stop)
		<-done
		return
	}
	defer srv.unadmit(nc.LocalAddr())
	t := &goTransport{nc: nc, resumed: make(chan struct{}, 1)}
	c := &client{l: l, lastActive: time.Now().UnixMilli()}
	x := c.ext()
	x.t, x.remote = t, nc.RemoteAddr()
	if p, ok := nc.(peerCN); ok {
		x.cn = p.PeerCommonName()
	}
	x.listener = lstOther
	if k, ok := nc.(interface{ ListenerKind() string }); ok {
		for i, n := range listenerNames {
			if n == k.ListenerKind() {
				x.listener = uint8(i)
			}
		}
	}
	srv.goCtr.open.Add(1)
	g.post(func() { l.wheel.add(c, secondsCeil(c.lastActive+srv.cfg.ConnectTimeout.Milliseconds())) })

	type result struct {
		n                             int
		closeNow, wait, paused, topic bool
	}
	results := make(chan result, 1)
	buf := make([]byte, 0, 512) // grows with the packets; most devices send small ones
	var readErr error
	reserved := 0 // bytes of MaxInboundBytes held for the incomplete packet at buf's head
	defer func() { srv.inbound.Add(-int64(reserved)) }()
	for readErr == nil {
		if len(buf) == cap(buf) {
			// The packet at the head needs a larger buffer: reserve its
			// size against MaxInboundBytes first, waiting (not reading)
			// while the budget is spent, as gnet connections pause.
			if h, err := codec.ParseFixedHeader(buf); err == nil && reserved == 0 && h.HeaderLen+h.Remaining <= srv.cfg.MaxPacketSize {
				total := int64(h.HeaderLen + h.Remaining)
				for counted := false; ; {
					if srv.inbound.Add(total) <= srv.cfg.MaxInboundBytes {
						reserved = int(total)
						break
					}
					srv.inbound.Add(-total)
					if !counted {
						counted = true
						srv.limitHit(limInboundBytes, "", addrString(nc.RemoteAddr()), "incomplete packets of all connections hold the maximum")
					}
					if t.closed.Load() {
						readErr = errors.New("server: closed while waiting for inbound budget")
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if readErr != nil {
					break
				}
			}
			if cap(buf) >= srv.cfg.MaxPacketSize+5 {
				readErr = errors.New("server: read buffer full") // unreachable: process refuses larger packets
				break
			}
			nb := make([]byte, len(buf), min(2*cap(buf), srv.cfg.MaxPacketSize+5))
			copy(nb, buf)
			buf = nb
		}
		var n int
		n, readErr = nc.Read(buf[len(buf):cap(buf)])
		if n == 0 {
			continue
		}
		buf = buf[:len(buf)+n]
		for {
			in := buf
			if !g.post(func() {
				l.now = time.Now()
				n, closeNow := l.process(c, in)
				if closeNow {
					c.end()
				}
				paused := c.inputPaused() && c.state != stateClosed && !c.closing
				topic := c.topicWaiting() && c.state != stateClosed && !c.closing
				results <- result{n, closeNow, c.state == stateAttaching || c.state == stateChecking || paused || topic, paused, topic}
			}) {
				readErr = errors.New("server: connection loop closed")
				break
			}
			r := <-results
			buf = buf[:copy(buf, buf[r.n:])]
			if r.n > 0 && reserved > 0 {
				// process consumes whole packets: the reserved one is done.
				srv.inbound.Add(-int64(reserved))
				reserved = 0
			}
			if len(buf) == 0 && cap(buf) > 64<<10 {
				buf = make([]byte, 0, 512) // do not keep a large packet's buffer
			}
			if r.closeNow || !r.wait {
				break
			}
			if r.paused {
				// A limit paused the input: not reading is the backpressure.
				// Look again each second in case the connection ended.
				select {
				case <-t.resumed:
				case <-time.After(time.Second):
				}
				continue
			}
			if r.topic {
				// A topic decision: the hook's timeout bounds it, and a
				// queued question may wait longer than ConnectTimeout.
				// Ask again each second whether it still waits (a close
				// meanwhile ends the wait).
				select {
				case <-t.resumed:
				case <-time.After(time.Second):
				case <-srv.stop:
					readErr = errors.New("server: shutting down")
				}
			} else {
				select { // wait until the session is attached, then parse the rest
				case <-t.resumed:
				case <-time.After(srv.cfg.ConnectTimeout):
					readErr = errors.New("server: session attach timed out")
				}
			}
			if readErr != nil || len(buf) == 0 {
				break
			}
		}
	}
	_ = nc.Close()
	g.post(func() {
		l.now = time.Now()
		l.closed(c)
	})
	srv.goCtr.open.Add(-1)
	close(stop)
	<-done
}

// trackConn records a goroutine connection so Close can end it; false once
// the server is shutting down.
func (srv *Server) trackConn(nc net.Conn) bool {
	srv.closeMu.Lock()
	defer srv.closeMu.Unlock()
	if srv.closed {
		return false
	}
	if srv.goConns == nil {
		srv.goConns = make(map[net.Conn]struct{})
	}
	srv.goConns[nc] = struct{}{}
	return true
}

func (srv *Server) untrackConn(nc net.Conn) {
	srv.closeMu.Lock()
	delete(srv.goConns, nc)
	srv.closeMu.Unlock()
}
