package server

import (
	"errors"
	"net"
	"time"
)

// goTransport serves one connection on goroutines: TLS and WebSocket, off
// the hot path. The reader goroutine hands each read to the connection's
// loop synchronously, so the loop parses the reader's buffer in place.
type goTransport struct {
	nc      net.Conn
	resumed chan struct{}
}

// writeTimeout bounds a write to a goroutine connection that stopped reading.
const writeTimeout = 30 * time.Second

func (t *goTransport) write(b []byte) error {
	_ = t.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := t.nc.Write(b)
	return err
}

func (t *goTransport) close() { _ = t.nc.Close() }

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
		n              int
		closeNow, wait bool
	}
	results := make(chan result, 1)
	buf := make([]byte, 0, 512) // grows with the packets; most devices send small ones
	var readErr error
	for readErr == nil {
		if len(buf) == cap(buf) {
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
				results <- result{n, closeNow, c.state == stateAttaching || c.state == stateChecking}
			}) {
				readErr = errors.New("server: connection loop closed")
				break
			}
			r := <-results
			buf = buf[:copy(buf, buf[r.n:])]
			if r.closeNow || !r.wait {
				break
			}
			select { // wait until the session is attached, then parse the rest
			case <-t.resumed:
			case <-time.After(srv.cfg.ConnectTimeout):
				readErr = errors.New("server: session attach timed out")
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
