package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/listener"
)

// browserTimeout bounds the whole browser run: Chromium's start on a busy
// 2-core machine is the slow part.
const browserTimeout = 60 * time.Second

// browserResult is what e2e/browser/e2e.js POSTs to /result.
type browserResult struct {
	Title string `json:"title"`
	Kinds map[string]struct {
		Loop   string `json:"loop"`
		FromGo string `json:"fromGo"`
	} `json:"kinds"`
	Log []string `json:"log"`
}

// syncBuffer collects the in-process broker's log for failure reports.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBrowserMQTTJS runs mqtt.js in headless Chromium against the broker's
// WebSocket listeners, plain (ws://) and TLS (wss://), and has Go clients
// (paho over ws:// and wss://) exchange messages with it both ways.
func TestBrowserMQTTJS(t *testing.T) {
	skipShort(t)
	chromium := requireTool(t, "chromium")
	root := repoRoot(t)
	browserDir := filepath.Join(root, "e2e", "browser")
	mqttJS := filepath.Join(browserDir, "node_modules", "mqtt", "dist", "mqtt.min.js")
	requireFile(t, "mqtt.js (npm ci in e2e/browser)", mqttJS)

	// The broker in-process, with the TCP listener on a free port and the
	// WebSocket listeners from server/listener serving srv.ServeConn.
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Close()
		if t.Failed() {
			t.Logf("--- broker log ---\n%s", logBuf.String())
		}
	})
	pki := newPKI(t)
	reloader, err := listener.NewCertReloader(listener.TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reloader.Close)
	ws := serveWS(t, srv, log, nil)
	wss := serveWS(t, srv, log, reloader.TLSConfig())
	wsURL := "ws://" + ws.Addr().String() + "/mqtt"
	wssURL := "wss://" + wss.Addr().String() + "/mqtt"

	// Go clients, one per transport, listening for the browser.
	prefix := "e2e/browser/" + nonce(t)
	goWS := mustConnect(t, "go-ws", clientOpts{url: wsURL})
	goWS.subscribe(t, prefix+"/b2g/ws", 1)
	goWSS := mustConnect(t, "go-wss", clientOpts{url: wssURL, tls: pki.clientTLS()})
	goWSS.subscribe(t, prefix+"/b2g/wss", 1)
	goClients := map[string]*client{"ws": goWS, "wss": goWSS}

	// The page, mqtt.js and the result endpoint, on loopback.
	results := make(chan browserResult, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(browserDir, "index.html"))
	})
	mux.HandleFunc("GET /e2e.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(browserDir, "e2e.js"))
	})
	mux.HandleFunc("GET /mqtt.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, mqttJS)
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		var res browserResult
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&res); err != nil {
			res.Title = "FAIL bad result JSON: " + err.Error()
		}
		select {
		case results <- res:
		default:
		}
	})
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	page := web.URL + "/?" + url.Values{"prefix": {prefix}, "ws": {wsURL}, "wss": {wssURL}}.Encode()

	profile := t.TempDir()
	browser := startProc(t, "chromium", profile, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-proxy-server", "--disable-extensions",
		"--user-data-dir="+profile,
		// The wss:// listener's certificate is signed by the test's CA,
		// which Chromium does not know.
		"--ignore-certificate-errors",
		page)

	// Answer the browser: on "ready KIND" from it, the Go client of that
	// transport sends a fresh value, which the browser echoes as "got VALUE".
	sent := map[string]string{}
	echoed := map[string]bool{}
	deadline := time.After(browserTimeout)
	var res browserResult
	for done := false; !done; {
		select {
		case m := <-goWS.msgs:
			answer(t, goClients, "ws", m.Topic(), string(m.Payload()), prefix, sent, echoed)
		case m := <-goWSS.msgs:
			answer(t, goClients, "wss", m.Topic(), string(m.Payload()), prefix, sent, echoed)
		case res = <-results:
			done = true
		case <-browser.done:
			t.Fatalf("e2e: chromium exited before the page reported:\n%s", browser.output())
		case <-deadline:
			t.Fatalf("e2e: the page reported nothing within %v (sent %v, echoed %v)", browserTimeout, sent, echoed)
		}
	}
	browser.kill()
	t.Logf("browser: %q; page log:\n%s", res.Title, strings.Join(res.Log, "\n"))

	if res.Title != "OK ws wss" {
		t.Fatalf("e2e: page title %q, want \"OK ws wss\"", res.Title)
	}
	for _, kind := range []string{"ws", "wss"} {
		got := res.Kinds[kind]
		if got.Loop != "loop "+kind {
			t.Errorf("e2e: browser %s client got %q back from itself, want %q", kind, got.Loop, "loop "+kind)
		}
		if sent[kind] == "" || got.FromGo != sent[kind] {
			t.Errorf("e2e: browser %s client got %q from Go, want %q (Go -> browser)", kind, got.FromGo, sent[kind])
		}
	}
	// The browser's "got VALUE" was published before it reported; its
	// delivery to the Go client may still be in flight.
	for _, kind := range []string{"ws", "wss"} {
		if echoed[kind] {
			continue
		}
		select {
		case m := <-goClients[kind].msgs:
			answer(t, goClients, kind, m.Topic(), string(m.Payload()), prefix, sent, echoed)
		case <-time.After(eventTimeout):
		}
		if !echoed[kind] {
			t.Errorf("e2e: Go %s client never got the browser's echo of %q (browser -> Go)", kind, sent[kind])
		}
	}
}

// answer handles a browser message received by the Go client of kind.
func answer(t *testing.T, goClients map[string]*client, kind, topic, payload, prefix string, sent map[string]string, echoed map[string]bool) {
	t.Helper()
	if topic != prefix+"/b2g/"+kind {
		t.Fatalf("e2e: Go %s client got %q on unexpected topic %q", kind, payload, topic)
	}
	switch {
	case payload == "ready "+kind && sent[kind] == "":
		sent[kind] = fmt.Sprintf("from go over %s %s", kind, nonce(t))
		goClients[kind].publish(t, prefix+"/g2b/"+kind, 1, sent[kind])
	case sent[kind] != "" && payload == "got "+sent[kind]:
		echoed[kind] = true
	default:
		t.Fatalf("e2e: Go %s client got unexpected %q from the browser", kind, payload)
	}
}

// serveWS starts a WebSocket listener (TLS when cfg is set) at /mqtt on a
// free loopback port, serving srv, and closes it in t.Cleanup.
func serveWS(t *testing.T, srv *server.Server, log *slog.Logger, cfg *tls.Config) *listener.Listener {
	t.Helper()
	l, err := listener.ListenWS(listener.Options{Addr: "127.0.0.1:0", Log: log}, "/mqtt", cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve(srv) }()
	t.Cleanup(func() {
		_ = l.Close()
		if err := <-served; err != nil {
			t.Errorf("e2e: WebSocket listener: %v", err)
		}
	})
	return l
}
