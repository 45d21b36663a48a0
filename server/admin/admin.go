// Package admin serves the broker's operational HTTP listener: health and
// readiness for load balancers and orchestrators, Prometheus metrics, the
// JSON API under /api/v1/ and the live dashboard (New). It runs on its own
// goroutines, never on the event loops.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// HealthPath is where Handler answers.
const HealthPath = "/healthz"

// Timeouts of the admin server: its clients are probes on a short leash.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 5 * time.Second
	maxHeaderBytes    = 16 << 10
)

// Handler serves GET (and HEAD) /healthz: 200 "ok" when health returns nil,
// 503 with the error's text otherwise. Other methods get 405, other paths
// 404. health is called once per request, from the request's goroutine, so
// it must be safe for concurrent use and quick (probes time out).
func Handler(health func() error) http.Handler {
	return healthHandler{health: health}
}

type healthHandler struct {
	health func() error
}

func (h healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != HealthPath {
		http.Error(w, fmt.Sprintf("admin: no endpoint at %q; health is at %s", r.URL.Path, HealthPath), http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "admin: "+HealthPath+" answers GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	var err error
	if h.health != nil {
		err = h.health()
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "ok")
}

// ListenAndServe binds addr (":0" picks a free port) and serves h in the
// background until ctx is done, then shuts down, giving requests in flight
// a few seconds. It returns the bound address once listening; serve errors
// after that are logged. log may be nil.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (net.Addr, error) {
	if addr == "" {
		return nil, errors.New("admin: empty listen address; leave the admin endpoint off instead of starting it")
	}
	if h == nil {
		return nil, errors.New("admin: ListenAndServe needs a handler; use admin.Handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %q: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("admin: shutdown did not finish; closing", "err", err)
			srv.Close()
		}
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin: HTTP server stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	log.Info("admin: serving", "addr", ln.Addr(), "health", HealthPath)
	return ln.Addr(), nil
}
