package admin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	var healthErr atomic.Pointer[error]
	calls := atomic.Int32{}
	h := Handler(func() error {
		calls.Add(1)
		if p := healthErr.Load(); p != nil {
			return *p
		}
		return nil
	})
	do := func(method, path string) (*http.Response, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}

	res, body := do(http.MethodGet, "/healthz")
	if res.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("healthy GET: %d %q, want 200 \"ok\"", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	if res, _ := do(http.MethodHead, "/healthz"); res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", res.StatusCode)
	}

	e := errors.New("server: 3 of 4 event loops stalled")
	healthErr.Store(&e)
	res, body = do(http.MethodGet, "/healthz")
	if res.StatusCode != http.StatusServiceUnavailable || body != e.Error() {
		t.Fatalf("unhealthy GET: %d %q, want 503 with the error text", res.StatusCode, body)
	}

	before := calls.Load()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		res, _ := do(m, "/healthz")
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s: %d, want 405", m, res.StatusCode)
		}
		if allow := res.Header.Get("Allow"); allow != "GET, HEAD" {
			t.Fatalf("%s: Allow = %q", m, allow)
		}
	}
	if res, _ := do(http.MethodGet, "/"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /: %d, want 404", res.StatusCode)
	}
	if res, _ := do(http.MethodGet, "/healthz/x"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /healthz/x: %d, want 404", res.StatusCode)
	}
	if calls.Load() != before {
		t.Fatal("health was called for a request that is not GET/HEAD /healthz")
	}
}

func TestHandlerNilHealth(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("nil health: %d, want 200", rec.Code)
	}
}

func TestListenAndServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fail atomic.Bool
	addr, err := ListenAndServe(ctx, "127.0.0.1:0", Handler(func() error {
		if fail.Load() {
			return errors.New("draining")
		}
		return nil
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr.String() + "/healthz"
	client := &http.Client{Timeout: 10 * time.Second}
	get := func() (int, string) {
		t.Helper()
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || body != "ok" {
		t.Fatalf("GET = %d %q", code, body)
	}
	fail.Store(true)
	if code, body := get(); code != 503 || body != "draining" {
		t.Fatalf("GET = %d %q", code, body)
	}

	cancel()
	// After ctx is done the port stops accepting.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("admin still accepting 10s after ctx was cancelled")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestListenAndServeErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := ListenAndServe(ctx, "", Handler(nil), nil); err == nil || !strings.HasPrefix(err.Error(), "admin: ") {
		t.Fatalf("empty addr: %v", err)
	}
	if _, err := ListenAndServe(ctx, "127.0.0.1:0", nil, nil); err == nil {
		t.Fatal("nil handler accepted")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := ListenAndServe(ctx, ln.Addr().String(), Handler(nil), nil); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("port in use: %v", err)
	}
}

func BenchmarkHandler(b *testing.B) {
	h := Handler(func() error { return nil })
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	b.ReportAllocs()
	b.SetBytes(2)
	for b.Loop() {
		h.ServeHTTP(discardWriter{header: http.Header{}}, req)
	}
}

type discardWriter struct{ header http.Header }

func (w discardWriter) Header() http.Header         { return w.header }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}
