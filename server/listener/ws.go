package listener

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// MQTT over WebSocket (MQTT 5.0 and 3.1.1 section 6).

// DefaultWSPath is the usual path of the MQTT WebSocket endpoint.
const DefaultWSPath = "/mqtt"

// Subprotocols accepted, in order of preference. The server must select
// "mqtt" [MQTT-6.0.0-4]; "mqttv3.1" is what MQTT 3.1 clients (old Paho)
// offer instead.
var wsSubprotocols = []string{"mqtt", "mqttv3.1"}

// maxWSHeaderBytes bounds the upgrade request's headers.
const maxWSHeaderBytes = 16 << 10

// ListenWS binds o.Addr for MQTT over WebSocket at path ("" means "/mqtt"):
// plain ws:// when cfg is nil, wss:// otherwise. Call Serve to accept.
//
// The upgrade must offer the subprotocol "mqtt" or "mqttv3.1" (400 otherwise);
// "mqtt" is chosen when offered. permessage-deflate is negotiated when the
// client offers it. Any Origin is accepted: MQTT clients in browsers connect
// from pages on any origin, and authentication happens in MQTT CONNECT, not
// with cookies, so an origin check would only lock them out.
func ListenWS(o Options, path string, cfg *tls.Config) (*Listener, error) {
	if path == "" {
		path = DefaultWSPath
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("listener: WebSocket path %q must start with /, e.g. /mqtt", path)
	}
	kind := "ws"
	if cfg != nil {
		kind = "wss"
	}
	l, err := newListener(o, kind, cfg)
	if err != nil {
		return nil, err
	}
	w := &wsServer{
		path:   path,
		log:    l.o.Log,
		conns:  make(chan net.Conn),
		closed: make(chan struct{}),
		addr:   l.ln.Addr(),
	}
	w.up = websocket.Upgrader{
		HandshakeTimeout:  l.o.HandshakeTimeout,
		Subprotocols:      wsSubprotocols,
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true }, // see ListenWS
		Error:             w.upgradeError,
	}
	w.http = &http.Server{
		Handler:           w,
		ReadHeaderTimeout: l.o.HandshakeTimeout,
		ReadTimeout:       l.o.HandshakeTimeout, // cleared on hijack
		WriteTimeout:      l.o.HandshakeTimeout,
		IdleTimeout:       l.o.HandshakeTimeout,
		MaxHeaderBytes:    maxWSHeaderBytes,
		ErrorLog:          slog.NewLogLogger(l.o.Log.Handler(), slog.LevelDebug),
	}
	// One request per connection: a client that is not upgrading gets its
	// answer and the connection closes.
	w.http.SetKeepAlivesEnabled(false)
	l.ws = w
	return l, nil
}

// ServeWS listens and serves MQTT over WebSocket until ctx is cancelled (then
// it closes the listener and returns nil) or accepting fails.
func ServeWS(ctx context.Context, o Options, path string, cfg *tls.Config, srv ConnServer) error {
	l, err := ListenWS(o, path, cfg)
	if err != nil {
		return err
	}
	return serveUntil(ctx, l, srv)
}

// wsServer runs net/http over connections the Listener has already taken
// through PROXY and TLS: the Listener's accept loop hands them over on a
// channel that an http.Server accepts from.
type wsServer struct {
	path string
	log  *slog.Logger
	up   websocket.Upgrader
	http *http.Server
	srv  ConnServer // set before run starts serving

	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	addr      net.Addr
}

// run serves HTTP until close; it runs in its own goroutine.
func (w *wsServer) run(srv ConnServer, wg *sync.WaitGroup) {
	defer wg.Done()
	w.srv = srv
	err := w.http.Serve(chanListener{w})
	if err != nil && err != http.ErrServerClosed {
		w.log.Warn("listener: WebSocket HTTP server stopped", "err", err)
	}
}

// hand passes a handshaken connection to the HTTP server; false when the
// listener closed first.
func (w *wsServer) hand(ctx context.Context, c net.Conn) bool {
	select {
	case w.conns <- c:
		return true
	case <-ctx.Done():
		return false
	case <-w.closed:
		return false
	}
}

func (w *wsServer) close() {
	w.closeOnce.Do(func() { close(w.closed) })
	w.http.Close() // closes connections still in HTTP; not upgraded ones
}

// ServeHTTP upgrades a request for the MQTT path and serves MQTT on it until
// the connection ends; it runs in the connection's goroutine.
func (w *wsServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	select {
	case <-w.closed:
		// A connection that slipped into the HTTP server as it closed.
		http.Error(rw, "listener: shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	if r.URL.Path != w.path {
		http.Error(rw, fmt.Sprintf("listener: no MQTT WebSocket endpoint at %q; connect to %q", r.URL.Path, w.path), http.StatusNotFound)
		return
	}
	// [MQTT-6.0.0-3] The client must offer "mqtt" (3.1 clients: "mqttv3.1").
	if websocket.IsWebSocketUpgrade(r) && !offersMQTT(r) {
		http.Error(rw, `listener: the WebSocket upgrade must offer the subprotocol "mqtt" `+
			`(Sec-WebSocket-Protocol: mqtt; MQTT 5.0 and 3.1.1 section 6), or "mqttv3.1" for MQTT 3.1 clients`, http.StatusBadRequest)
		return
	}
	ws, err := w.up.Upgrade(rw, r, nil)
	if err != nil {
		w.log.Debug("listener: WebSocket upgrade failed", "peer", r.RemoteAddr, "err", err)
		return // the Upgrader has answered the client
	}
	c := newWSConn(ws, stateCN(r.TLS))
	c.kind = "ws"
	if r.TLS != nil {
		c.kind = "wss"
	}
	defer c.Close()
	w.srv.ServeConn(c)
}

func (w *wsServer) upgradeError(rw http.ResponseWriter, _ *http.Request, status int, reason error) {
	http.Error(rw, reason.Error(), status)
}

func offersMQTT(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		for _, s := range wsSubprotocols {
			if p == s {
				return true
			}
		}
	}
	return false
}

// chanListener is the net.Listener the http.Server accepts from.
type chanListener struct{ w *wsServer }

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.w.conns:
		return c, nil
	case <-l.w.closed:
		return nil, net.ErrClosed
	}
}

func (l chanListener) Close() error {
	l.w.closeOnce.Do(func() { close(l.w.closed) })
	return nil
}

func (l chanListener) Addr() net.Addr { return l.w.addr }
