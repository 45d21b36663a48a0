//go:build !race

package authhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cp7/cp7/server"
)

// TestCachedTopicLookupAllocations: a cached publish decision is answered
// on the event loop without allocating (no JSON, no HMAC: a seeded maphash
// and a string compare). Not under -race, which allocates on its own.
func TestCachedTopicLookupAllocations(t *testing.T) {
	v := cachedView(t)
	topic := []byte("sensors/1/temp")
	if allow, known := v.Lookup(server.ActionPublish, topic); !allow || !known {
		t.Fatal("the decision is cached")
	}
	if got := testing.AllocsPerRun(1000, func() { v.Lookup(server.ActionPublish, topic) }); got != 0 {
		t.Fatalf("%.1f allocations per cached lookup, want 0", got)
	}
}

// BenchmarkCachedTopicLookup: the cost a hook adds to a publish whose
// decision is cached.
func BenchmarkCachedTopicLookup(b *testing.B) {
	v := cachedView(b)
	topic := []byte("sensors/1/temp")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if allow, _ := v.Lookup(server.ActionPublish, topic); !allow {
				b.Fatal("denied")
			}
		}
	})
}

func cachedView(tb testing.TB) server.SlowTopicAuthorizer {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"result":"allow"}`))
	}))
	tb.Cleanup(srv.Close)
	h, err := New(Options{URL: srv.URL, CacheTTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	v := h.Authorizer().ForClient(&server.ClientIdentity{ClientID: "dev-1", Username: "alice"}).(server.SlowTopicAuthorizer)
	if !v.Fetch(server.ActionPublish, "sensors/1/temp") {
		tb.Fatal("the service allows")
	}
	return v
}
