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
	limits   limitStats
	gate     connGate
	// inbound is the bytes reserved for incomplete packets across all
	// connections (MaxInboundBytes); retainedBytes the topic and payload
	// bytes of the retained messages (MaxRetainedBytes).
	inbound       atomic.Int64
	retainedBytes atomic.Int64
	started       time.Time

	// counters of every loop, summed by Metrics; goCtr is shared by the
	// goroutine connections' loops (off the hot path) and goroutines that
	// own no loop.
	ctrMu      sync.Mutex
	ctrs       []*loopCounters
	goCtr      *loopCounters
	collectMu  sync.Mutex
	collectors []func() []Family
	readyMu    sync.Mutex
	notReady   map[string]string // HoldReady
	// authPending counts CONNECTs waiting for an auth worker (not per
	// publish: one add at the submit, one at the answer)
	authPending atomic.Int64
	auth        *authPool // runs cfg.Auth off the loops; nil without cfg.Auth
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
	// stopping is closed, readable without the lock (gnet's OnOpen)
	stopping atomic.Bool
	goConns  map[net.Conn]struct{} // TLS/WebSocket connections being served
	// logInfo and logDebug say whether those levels are on, so per-connection
	// log lines cost nothing (no formatting, no boxing) when they are off.
	logInfo, logDebug bool

	// outMu guards outLoops, the loops waiting for a socket to drain
	// (outputTicker); outWake starts the ticker.
	outMu    sync.Mutex
	outLoops map[*loop]struct{}
	outWake  chan struct{}
	// inLoops are the loops with connections paused by MaxInboundBytes,
	// woken when a reservation is released; inWaiting says it is not empty.
	inLoops   map[*loop]struct{}
	inWaiting atomic.Bool
	// checkTopics says whether any topic rules may apply (Config.ACL, or
	// an Authenticator that may attach ClientRules): without, the publish
	// and delivery paths skip authorization on this one test.
	checkTopics bool
	topicStats  topicStats // decisions of slow authorizers (topiccheck.go)
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
		outWake:  make(chan struct{}, 1),
		started:  time.Now(),
		goCtr:    new(loopCounters),
		logInfo:  log.Enabled(context.Background(), slog.LevelInfo),
		logDebug: log.Enabled(context.Background(), slog.LevelDebug),
	}
	srv.addCounters(srv.goCtr)
	srv.checkTopics = cfg.ACL != nil || cfg.Auth != nil
	if cfg.Auth != nil || cfg.ACL != nil { // the ACL's hook asks on the pool too
		srv.auth = newAuthPool(cfg.Auth, cfg.AuthWorkers, cfg.AuthQueue)
	}
	return srv, nil
}

// Start opens the TCP listener (when cfg.Listen is set) and starts the
// timers. It returns once the listener accepts connections.
func (srv *Server) Start() error {
	g := newGoLoop()
	srv.parking = newLoop(srv, g.post)
	srv.parking.name = "parking"
	srv.addLoop(srv.parking)
	if srv.cfg.Store != nil {
		// Before the parking loop's goroutine and any listener start: the
		// recovered sessions are its own until then. Ready says not ready
		// meanwhile (/readyz).
		srv.HoldReady("store", "recovering persistent sessions and retained messages")
		if err := srv.recoverStore(); err != nil {
			return err
		}
		srv.ReleaseReady("store")
	}
	srv.wg.Add(3)
	go func() { defer srv.wg.Done(); g.run(srv.parking, srv.stop) }()
	go func() { defer srv.wg.Done(); srv.ticker() }()
	go func() { defer srv.wg.Done(); srv.outputTicker() }()
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
	if srv.cfg.TCPKeepAlive > 0 {
		// Finds peers that vanished without a FIN even with MQTT keepalive 0.
		opts = append(opts, gnet.WithTCPKeepAlive(srv.cfg.TCPKeepAlive))
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

// Close is Shutdown with two seconds for the clients' goodbyes.
func (srv *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// Shutdown stops accepting connections (new ones are closed at once), tells
// every connected v5 client the server is shutting down (DISCONNECT 0x8B),
// flushes what each connection has pending and closes it, then stops the
// loops. It waits for the goodbyes until ctx is done. A connection ended
// this way did not send DISCONNECT, so its will is due [MQTT-3.1.2-8]: at
// once, or after its delay if the session outlives the broker (which needs
// a durable store; see docs/DESIGN.md "Shutdown").
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.closeMu.Lock()
	if srv.closed {
		srv.closeMu.Unlock()
		return nil
	}
	srv.closed = true
	srv.stopping.Store(true)
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
	waitCtx(ctx, &pending)
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
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	waitCtx(ctx, wg)
}

func waitCtx(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
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
	srv.goCtr.drop(dropLoopGone)
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
	var sys sysState
	if srv.cfg.SysInterval > 0 {
		// The first $SYS snapshot goes out at once, so a subscriber of a
		// fresh broker does not wait a whole interval.
		sys.next = time.Now()
		srv.sysTick(&sys, time.Now())
	}
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
			srv.sysTick(&sys, now)
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

// HoldReady makes Ready fail with why until ReleaseReady(name): cmd/cp7
// holds "listeners" until every listener is up; a store can hold "store"
// until it has recovered.
func (srv *Server) HoldReady(name, why string) {
	srv.readyMu.Lock()
	if srv.notReady == nil {
		srv.notReady = make(map[string]string)
	}
	srv.notReady[name] = why
	srv.readyMu.Unlock()
}

// ReleaseReady ends a HoldReady.
func (srv *Server) ReleaseReady(name string) {
	srv.readyMu.Lock()
	delete(srv.notReady, name)
	srv.readyMu.Unlock()
}

// Ready reports whether the broker should get traffic (/readyz): nil once
// it is healthy and nothing holds readiness.
func (srv *Server) Ready() error {
	if err := srv.Healthy(); err != nil {
		return err
	}
	srv.readyMu.Lock()
	defer srv.readyMu.Unlock()
	for name, why := range srv.notReady {
		return fmt.Errorf("server: not ready: %s: %s", name, why)
	}
	return nil
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
