// Package server is the CP7 broker: the gnet event handler, the connection
// state machine, sessions, QoS flows, retained messages, wills and
// keepalive. See ARCHITECTURE.md for the ownership rules: every connection
// and session belongs to one loop, and only that loop touches its state.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
)

// Server is one broker instance.
type Server struct {
	cfg      Config
	log      *slog.Logger
	router   *router.Table
	retained *router.RetainTree[*Message]
	sessions registry
	stats    stats
	auth     *authPool // runs cfg.Auth off the loops; nil without cfg.Auth
	// cluster is nil on a single node; bus is the loop that routes the
	// messages other nodes send (see cluster.go).
	cluster Cluster
	bus     *loop

	handler *gnetHandler
	engine  gnet.Engine
	gnetErr chan error
	addr    net.Addr

	loopsMu sync.Mutex
	loops   map[*loop]struct{}
	parking *loop // owns offline sessions of ended goroutine connections
	stop    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
	goConns map[net.Conn]struct{} // TLS/WebSocket connections being served
	// logInfo and logDebug say whether those levels are on, so per-connection
	// log lines cost nothing (no formatting, no boxing) when they are off.
	logInfo, logDebug bool
	ready             atomic.Bool // Start finished (and recovered the store)
	// checkTopics says whether any topic rules may apply (Config.ACL, or
	// an Authenticator that may attach ClientRules): without, the publish
	// and delivery paths skip authorization on this one test.
	checkTopics bool
}

// New makes a server from cfg; Start runs it.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	srv := &Server{
		cfg:      cfg,
		log:      log,
		router:   router.NewTable(cfg.RouterShards, cfg.SharedStrategy),
		retained: router.NewRetainTree[*Message](),
		loops:    make(map[*loop]struct{}),
		stop:     make(chan struct{}),
		logInfo:  log.Enabled(context.Background(), slog.LevelInfo),
		logDebug: log.Enabled(context.Background(), slog.LevelDebug),
	}
	srv.checkTopics = cfg.ACL != nil || cfg.Auth != nil
	if cfg.Auth != nil {
		srv.auth = newAuthPool(cfg.Auth, cfg.AuthWorkers, cfg.AuthQueue)
	}
	return srv, nil
}

// Start opens the TCP listener (when cfg.Listen is set) and starts the
// timers. It returns once the listener accepts connections.
func (srv *Server) Start() error {
	g := newGoLoop()
	srv.parking = newLoop(srv, g.post)
	srv.addLoop(srv.parking)
	if srv.cfg.Store != nil {
		// Before the parking loop's goroutine and any listener start: the
		// recovered sessions are its own until then.
		if err := srv.recoverStore(); err != nil {
			return err
		}
	}
	defer srv.ready.Store(true)
	srv.wg.Add(2)
	go func() { defer srv.wg.Done(); g.run(srv.parking, srv.stop) }()
	go func() { defer srv.wg.Done(); srv.ticker() }()
	if srv.cluster != nil {
		srv.startBusLoop()
	}
	if srv.cfg.Listen == "" {
		return nil
	}
	addr, err := resolveListen(srv.cfg.Listen)
	if err != nil {
		srv.Close()
		return err
	}
	h := &gnetHandler{srv: srv, boot: make(chan gnet.Engine, 1)}
	srv.handler = h
	srv.gnetErr = make(chan error, 1)
	opts := []gnet.Option{
		gnet.WithReusePort(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{srv.log}),
	}
	if srv.cfg.EventLoops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(srv.cfg.EventLoops))
	} else {
		opts = append(opts, gnet.WithMulticore(true))
	}
	go func() { srv.gnetErr <- gnet.Run(h, "tcp://"+addr, opts...) }()
	select {
	case eng := <-h.boot:
		srv.engine = eng
		srv.addr = boundAddr(eng, addr)
	case err := <-srv.gnetErr:
		srv.Close()
		return fmt.Errorf("server: cannot listen on %s: %w (is another broker running? use -listen to pick another address)", srv.cfg.Listen, err)
	}
	srv.log.Info("listening", "transport", "tcp", "addr", srv.addr.String())
	return nil
}

// Addr is the bound address of the TCP listener, or nil.
func (srv *Server) Addr() net.Addr { return srv.addr }

// resolveListen turns ":0" into a free port, since with SO_REUSEPORT each
// event loop binds its own socket and they must agree on the port.
func resolveListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("server: listen address %q: %w (want host:port, e.g. 0.0.0.0:1883)", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("server: cannot listen on %s: %w", addr, err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// boundAddr reads the listener's address from the engine.
func boundAddr(eng gnet.Engine, fallback string) net.Addr {
	if fd, err := eng.Dup(); err == nil {
		defer unix.Close(fd)
		if sa, err := unix.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			case *unix.SockaddrInet6:
				return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			}
		}
	}
	a, _ := net.ResolveTCPAddr("tcp", fallback)
	return a
}

// Close tells every connected v5 client the server is shutting down
// (DISCONNECT 0x8B), closes every connection and stops the loops.
func (srv *Server) Close() error {
	srv.closeMu.Lock()
	if srv.closed {
		srv.closeMu.Unlock()
		return nil
	}
	srv.closed = true
	srv.closeMu.Unlock()

	var pending sync.WaitGroup
	srv.sessions.each(func(s *session) {
		if !s.Connected() {
			return
		}
		pending.Add(1)
		srv.postToOwner(s, func(l *loop) {
			defer pending.Done()
			if c := s.c; c != nil && s.owner.Load() == l {
				l.disconnect(c, codec.ServerShuttingDown)
			}
		})
	})
	waitTimeout(&pending, 2*time.Second)
	// Goroutine connections are the broker's once handed to ServeConn:
	// close those still open (not yet connected ones too).
	srv.closeMu.Lock()
	for nc := range srv.goConns {
		_ = nc.Close()
	}
	srv.closeMu.Unlock()
	var err error
	if srv.handler != nil && srv.engine.Validate() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.engine.Stop(ctx)
		cancel()
		if e := <-srv.gnetErr; e != nil && err == nil && !errors.Is(e, context.Canceled) {
			err = e
		}
	}
	close(srv.stop)
	srv.wg.Wait()
	if srv.auth != nil {
		srv.auth.close()
	}
	return err
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// postToOwner runs task on the loop that owns s, following the session if
// it moves while the task is posted. A loop that is gone (an ended
// goroutine connection) has already handed its sessions on.
func (srv *Server) postToOwner(s *session, task func(l *loop)) {
	for range 8 {
		o := s.owner.Load()
		if o.post(func() {
			if cur := s.owner.Load(); cur != o {
				srv.postToOwner(s, task)
				return
			}
			task(o)
		}) {
			return
		}
		if s.owner.Load() == o {
			break
		}
	}
	srv.log.Warn("dropping a task for a session whose loop is gone", "client_id", s.id)
}

func (srv *Server) addLoop(l *loop) {
	srv.loopsMu.Lock()
	srv.loops[l] = struct{}{}
	srv.loopsMu.Unlock()
}

func (srv *Server) removeLoop(l *loop) {
	srv.loopsMu.Lock()
	delete(srv.loops, l)
	srv.loopsMu.Unlock()
}

// ticker is the server's one timer: each second it posts a tick to every
// loop, which walks its timing wheel. No timer exists per connection.
func (srv *Server) ticker() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var ls []*loop
	for {
		select {
		case <-srv.stop:
			return
		case now := <-t.C:
			ls = ls[:0]
			srv.loopsMu.Lock()
			for l := range srv.loops {
				ls = append(ls, l)
			}
			srv.loopsMu.Unlock()
			for _, l := range ls {
				l := l
				l.post(func() { l.tick(now) })
			}
		}
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// each visits every registered session (shutdown, admin views).
func (r *registry) each(fn func(s *session)) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		list := make([]*session, 0, sh.n)
		for _, s := range sh.slots {
			if s != nil {
				list = append(list, s)
			}
		}
		sh.mu.Unlock()
		for _, s := range list {
			fn(s)
		}
	}
}

// Healthy reports whether the broker serves: nil while running, an error
// once it is shutting down. The admin endpoint's /healthz uses it.
func (srv *Server) Healthy() error {
	srv.closeMu.Lock()
	defer srv.closeMu.Unlock()
	if srv.closed {
		return errors.New("server: shutting down")
	}
	return nil
}
