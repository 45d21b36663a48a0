// Package listener runs the broker's goroutine-per-connection listeners: MQTT
// over TLS and MQTT over WebSocket (plain or TLS), each optionally behind a
// PROXY protocol load balancer. Plain TCP runs on gnet elsewhere; these are
// off the hot path.
//
// For every accepted connection a listener reads the PROXY header (when
// enabled), completes the TLS handshake and, for WebSocket, the HTTP upgrade,
// all under one handshake timeout, then calls ConnServer.ServeConn with a
// net.Conn whose RemoteAddr is the client's real address.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cp7/cp7/server/proxyproto"
)

// DefaultHandshakeTimeout applies when Options.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// ConnServer drives one MQTT connection to its end; it blocks until the
// connection closes. c.RemoteAddr() is the address the broker reports as the
// client's (logs, ACL): the TCP peer, or the PROXY header's source when PROXY
// is on. X-Forwarded-For is never trusted. For TLS and WSS, c also satisfies
// PeerIdentity.
type ConnServer interface {
	ServeConn(c net.Conn)
}

// Options are common to all listeners.
type Options struct {
	// Addr is the TCP address to listen on, e.g. ":8883" or "127.0.0.1:0".
	Addr string
	// Proxy lists the peers allowed to send a PROXY protocol header; nil
	// turns PROXY off. The header is read before TLS.
	Proxy *proxyproto.Trusted
	// ProxyRequired refuses connections from peers in Proxy that send no
	// header. Peers outside Proxy never may send one.
	ProxyRequired bool
	// HandshakeTimeout bounds the PROXY header, TLS handshake and WebSocket
	// upgrade together per step; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxConns caps open connections on this listener (handshaking ones
	// included); above it new connections are closed at once and counted
	// (Rejected). 0 means no cap.
	MaxConns int
	// Log receives accept errors (Warn) and failed handshakes (Debug); nil
	// discards.
	Log *slog.Logger
}

// Listener is a bound TLS or WebSocket listener. Create it with ListenTLS or
// ListenWS, run it with Serve, stop it with Close.
type Listener struct {
	o      Options
	kind   string // "tls", "ws" or "wss", for logs
	ln     net.Listener
	tlsCfg *tls.Config
	ws     *wsServer // nil for plain TLS

	ctx    context.Context // cancelled by Close: aborts handshakes
	cancel context.CancelFunc
	wg     sync.WaitGroup // handshaking connections and the HTTP server

	mu         sync.Mutex
	closed     bool
	acceptDone chan struct{} // non-nil once Serve started; closed when it returns
	closeOnce  sync.Once
	closeErr   error

	active   atomic.Int64
	rejected atomic.Uint64
}

func newListener(o Options, kind string, cfg *tls.Config) (*Listener, error) {
	if o.Addr == "" {
		return nil, fmt.Errorf("listener: empty %s listen address; leave the listener off instead of starting it", kind)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.MaxConns < 0 {
		return nil, fmt.Errorf("listener: MaxConns %d is negative; use 0 for no cap", o.MaxConns)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if cfg != nil && len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, fmt.Errorf("listener: the %s configuration has no certificate; use CertReloader.TLSConfig", kind)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listener: %s listen on %q: %w", kind, o.Addr, err)
	}
	l := &Listener{o: o, kind: kind, ln: ln, tlsCfg: cfg}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l, nil
}

// ListenTLS binds o.Addr for MQTT over TLS with cfg (from
// CertReloader.TLSConfig). Call Serve to accept.
func ListenTLS(o Options, cfg *tls.Config) (*Listener, error) {
	if cfg == nil {
		return nil, errors.New("listener: ListenTLS needs a TLS configuration; use CertReloader.TLSConfig")
	}
	return newListener(o, "tls", cfg)
}

// ServeTLS listens on o.Addr and serves MQTT over TLS until ctx is cancelled
// (then it closes the listener and returns nil) or accepting fails.
func ServeTLS(ctx context.Context, o Options, cfg *tls.Config, srv ConnServer) error {
	l, err := ListenTLS(o, cfg)
	if err != nil {
		return err
	}
	return serveUntil(ctx, l, srv)
}

func serveUntil(ctx context.Context, l *Listener, srv ConnServer) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	err := l.Serve(srv)
	l.Close()
	return err
}

// Addr is the bound address (useful when Options.Addr ends in ":0").
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Conns is the number of open connections, handshaking ones included.
func (l *Listener) Conns() int64 { return l.active.Load() }

// Rejected counts connections closed at accept because MaxConns was reached.
func (l *Listener) Rejected() uint64 { return l.rejected.Load() }

// Serve accepts connections and runs srv.ServeConn for each, in its own
// goroutine, after the handshakes. It blocks until Close (then returns nil)
// or until accepting fails for a reason other than a transient one such as
// running out of file descriptors (those are retried with a backoff).
// Serve may be called once.
func (l *Listener) Serve(srv ConnServer) error {
	if srv == nil {
		return errors.New("listener: Serve needs a ConnServer")
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return nil
	case l.acceptDone != nil:
		l.mu.Unlock()
		return errors.New("listener: Serve called twice on one listener")
	}
	l.acceptDone = make(chan struct{})
	if l.ws != nil {
		l.wg.Add(1)
		go l.ws.run(srv, &l.wg)
	}
	l.mu.Unlock()
	defer close(l.acceptDone)
	return l.acceptLoop(srv)
}

// Close stops accepting, aborts handshakes in progress and waits for the
// accept loop to end. Connections already handed to ServeConn belong to the
// ConnServer and are not closed.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		done := l.acceptDone
		l.mu.Unlock()
		l.cancel()
		l.closeErr = l.ln.Close()
		if l.ws != nil {
			l.ws.close()
		}
		if done != nil {
			<-done
		}
		l.wg.Wait()
	})
	return l.closeErr
}

func (l *Listener) acceptLoop(srv ConnServer) error {
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !isTransient(err) {
				return fmt.Errorf("listener: %s accept on %s: %w", l.kind, l.ln.Addr(), err)
			}
			// Out of descriptors or similar: back off (5ms doubling to 1s) so
			// the loop does not spin, and keep the listener.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.o.Log.Warn("listener: accept failed; retrying", "listener", l.kind, "err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.ctx.Done():
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		if l.o.MaxConns > 0 && l.active.Load() >= int64(l.o.MaxConns) {
			l.rejected.Add(1)
			l.o.Log.Debug("listener: connection refused, at MaxConns", "listener", l.kind, "peer", c.RemoteAddr(), "max", l.o.MaxConns)
			c.Close()
			continue
		}
		l.active.Add(1)
		l.wg.Add(1)
		go l.handle(&countedConn{Conn: c, l: l}, srv)
	}
}

// isTransient reports accept errors worth retrying (EMFILE, ENFILE,
// ECONNABORTED and the like), as net/http does.
func isTransient(err error) bool {
	var t interface{ Temporary() bool }
	var ne net.Error
	return (errors.As(err, &t) && t.Temporary()) || (errors.As(err, &ne) && ne.Timeout())
}

// handle runs in the connection's goroutine: handshakes, then either serves
// MQTT over TLS or passes the connection to the WebSocket HTTP server.
func (l *Listener) handle(c *countedConn, srv ConnServer) {
	conn, err := l.handshake(c)
	if err != nil {
		l.o.Log.Debug("listener: handshake failed", "listener", l.kind, "peer", c.RemoteAddr(), "err", err)
		c.Close() // before Done: once Close returns, Conns counts no aborted handshake
		l.wg.Done()
		return
	}
	if l.ws != nil {
		// The HTTP server takes it from here (upgrade, then ServeConn).
		if !l.ws.hand(l.ctx, conn) {
			conn.Close()
		}
		l.wg.Done()
		return
	}
	l.wg.Done()
	tc := conn.(*tls.Conn)
	mc := &tlsConn{Conn: tc, cn: ClientCN(tc)}
	defer mc.Close()
	srv.ServeConn(mc)
}

// handshake reads the PROXY header and completes the TLS handshake, each
// under HandshakeTimeout. Close aborts it by closing the connection.
func (l *Listener) handshake(c *countedConn) (net.Conn, error) {
	stop := context.AfterFunc(l.ctx, func() { c.Close() })
	defer stop()
	var conn net.Conn = c
	if l.o.Proxy != nil {
		pc, err := proxyproto.WrapConn(c, l.o.Proxy, l.o.ProxyRequired, l.o.HandshakeTimeout)
		if err != nil {
			return nil, err
		}
		conn = pc
	}
	if l.tlsCfg == nil {
		return conn, nil
	}
	tc := tls.Server(conn, l.tlsCfg)
	if err := tc.SetDeadline(time.Now().Add(l.o.HandshakeTimeout)); err != nil {
		return nil, fmt.Errorf("listener: setting TLS handshake deadline: %w", err)
	}
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("listener: TLS handshake: %w", err)
	}
	if err := tc.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("listener: clearing TLS handshake deadline: %w", err)
	}
	if l.ctx.Err() != nil {
		return nil, net.ErrClosed
	}
	return tc, nil
}

// countedConn keeps Listener.active right: it is decremented exactly once,
// whoever closes the connection first.
type countedConn struct {
	net.Conn
	l    *Listener
	once sync.Once
	err  error
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.l.active.Add(-1)
	})
	return c.err
}
