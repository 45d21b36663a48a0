package authhttp

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestPublishSubscribeDecisions: Allow asks the service (publish and
// subscribe actions, with the topic), caches the decision for the TTL, and
// Cached answers from the cache without a call.
func TestPublishSubscribeDecisions(t *testing.T) {
	var calls atomic.Int64
	var last atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req map[string]string
		_ = json.NewDecoder(r.Body).Decode(&req)
		last.Store(req)
		if req["topic"] == "ok/1" {
			_, _ = w.Write([]byte(`{"result":"allow"}`))
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	h, err := New(Options{URL: srv.URL, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, known := h.Cached(Publish, "c1", "u1", "ok/1"); known {
		t.Fatal("nothing cached yet")
	}
	if !h.Allow(Publish, "c1", "u1", "ok/1") || h.Allow(Subscribe, "c1", "u1", "no/#") {
		t.Fatal("allow ok/1, deny no/#")
	}
	req := last.Load().(map[string]string)
	if req["action"] != "subscribe" || req["topic"] != "no/#" || req["clientid"] != "c1" || req["username"] != "u1" {
		t.Fatalf("request %v", req)
	}
	if allow, known := h.Cached(Publish, "c1", "u1", "ok/1"); !allow || !known {
		t.Fatal("the allow is cached")
	}
	if allow, known := h.Cached(Subscribe, "c1", "u1", "no/#"); allow || !known {
		t.Fatal("the deny is cached")
	}
	h.Allow(Publish, "c1", "u1", "ok/1")
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want 2 (the third decision came from the cache)", calls.Load())
	}
	h.Invalidate()
	if _, known := h.Cached(Publish, "c1", "u1", "ok/1"); known {
		t.Fatal("Invalidate empties the cache")
	}
}

// TestFailurePolicy: a service answering 500 or garbage is a failure; fail
// closed refuses, fail open allows; failures are not cached.
func TestFailurePolicy(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 0 {
			_, _ = w.Write([]byte(`{"result":"maybe"}`))
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	closed, _ := New(Options{URL: srv.URL, CacheTTL: time.Minute})
	open, _ := New(Options{URL: srv.URL, CacheTTL: time.Minute, FailOpen: true})
	for range 2 {
		if closed.Allow(Publish, "c", "u", "t") {
			t.Fatal("fail closed allowed")
		}
		if !open.Allow(Publish, "c", "u", "t") {
			t.Fatal("fail open refused")
		}
	}
	if calls.Load() != 4 || closed.Failures() != 2 {
		t.Fatalf("%d calls, %d failures: failures must not be cached", calls.Load(), closed.Failures())
	}
	if _, err := New(Options{URL: "ftp://x"}); err == nil {
		t.Fatal("a non-HTTP URL must be refused")
	}
}

// TestKeepAlive: sequential decisions reuse one connection to the service.
func TestKeepAlive(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	h, _ := New(Options{URL: srv.URL}) // no cache: every decision is a request
	for i := range 10 {
		if !h.Allow(Publish, "c", "u", fmt.Sprint("t/", i)) {
			t.Fatal("204 is allow")
		}
	}
	if h.Calls() != 10 || conns.Load() != 1 {
		t.Fatalf("%d requests over %d connections, want 10 over 1", h.Calls(), conns.Load())
	}
}
