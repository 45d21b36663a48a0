package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/admin"
)

// defaultAdminListen is where the admin HTTP API, /metrics and the
// dashboard listen unless -admin-listen says otherwise.
const defaultAdminListen = "127.0.0.1:18083"

// opsFlags are the operator's flags: the admin HTTP listener (API,
// /metrics, dashboard, health), $SYS, shutdown and log format.
type opsFlags struct {
	adminListen     string
	adminToken      string
	sysInterval     time.Duration
	shutdownTimeout time.Duration
	logFormat       string
	pprofElsewhere  bool
	o               *options
}

func init() { addGroup(func() flagGroup { return &opsFlags{} }) }

func (f *opsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.adminListen, "admin-listen", defaultAdminListen, "`ADDR` of the admin HTTP listener: dashboard at /, GET /metrics (Prometheus), /healthz, /readyz, the API under /api/v1/ and /debug/pprof/; empty = off. Anything but loopback needs -admin-token")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer `TOKEN` required by the admin listener (all but /healthz and /readyz); required when -admin-listen is not a loopback address. Secret")
	fs.DurationVar(&f.sysInterval, "sys-interval", 10*time.Second, "publish the $SYS/broker/... topics (retained) every `DURATION`; 0 = off")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM/SIGINT, stop accepting, say goodbye to clients (v5: DISCONNECT 0x8B), flush and exit within this `DURATION`")
	fs.StringVar(&f.logFormat, "log-format", "text", "log `FORMAT`: text or json")
}

func (f *opsFlags) apply(o *options) error {
	if f.logFormat != "text" && f.logFormat != "json" {
		return fmt.Errorf("-log-format %q: use text or json", f.logFormat)
	}
	if f.sysInterval < 0 {
		return fmt.Errorf("-sys-interval %v is negative: use 0 (off) or a duration such as 10s", f.sysInterval)
	}
	if f.sysInterval > 0 && f.sysInterval < time.Second {
		return fmt.Errorf("-sys-interval %v is below 1s, the broker's tick: use 1s or more, or 0 for off", f.sysInterval)
	}
	if f.shutdownTimeout <= 0 {
		return fmt.Errorf("-shutdown-timeout %v must be positive, e.g. 10s", f.shutdownTimeout)
	}
	if f.adminListen != "" && f.adminToken == "" && !admin.IsLoopback(f.adminListen) {
		return fmt.Errorf("-admin-listen %s is not a loopback address: set -admin-token (the API can kick clients and publish), or listen on 127.0.0.1", f.adminListen)
	}
	o.cfg.SysInterval = f.sysInterval
	o.logFormat = f.logFormat
	o.shutdownTimeout = f.shutdownTimeout
	f.pprofElsewhere = o.pprof != ""
	f.o = o
	return nil
}

// start opens the admin listener. A busy default address (another cp7 on
// this host) is logged and skipped, so `cp7` with no flags still starts; an
// address given with -admin-listen must bind.
func (f *opsFlags) start(ctx context.Context, srv *server.Server, log *slog.Logger) (func(), error) {
	if f.adminListen == "" {
		return func() {}, nil
	}
	h := admin.New(srv, admin.Options{Token: f.adminToken, Pprof: !f.pprofElsewhere, Log: log, Cluster: f.o.clusterStatus})
	actx, cancel := context.WithCancel(ctx)
	addr, err := admin.ListenAndServe(actx, f.adminListen, h, log)
	if err != nil {
		cancel()
		if f.adminListen == defaultAdminListen && errors.Is(err, syscall.EADDRINUSE) {
			log.Warn("admin listener off: its default address is in use (another cp7?); pick one with -admin-listen", "addr", f.adminListen)
			return func() {}, nil
		}
		return nil, fmt.Errorf("-admin-listen %s: %w", f.adminListen, err)
	}
	log.Info("listening", "transport", "admin-http", "addr", addr.String())
	return cancel, nil
}

// shutdown stops the listeners and the broker within timeout: the goroutine
// listeners first (no new TLS/WebSocket clients), then the broker (which
// refuses new TCP connections, says goodbye to the connected ones and
// flushes), then the admin listener.
func shutdown(srv *server.Server, stopListeners, cancel func(), timeout time.Duration, log *slog.Logger) error {
	start := time.Now()
	ctx, done := context.WithTimeout(context.Background(), timeout)
	defer done()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// Goodbyes get most of the time; stopping the loops the rest.
		gctx, gdone := context.WithTimeout(ctx, timeout*8/10)
		defer gdone()
		_ = srv.Shutdown(gctx)
		stopListeners()
		cancel()
	}()
	select {
	case <-finished:
		log.Info("shut down", "took", time.Since(start).Round(time.Millisecond).String())
	case <-ctx.Done():
		log.Error("shutdown took longer than -shutdown-timeout; exiting anyway", "timeout", timeout.String())
		os.Exit(1)
	}
	return nil
}
