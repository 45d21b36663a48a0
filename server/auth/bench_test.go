package auth

import (
	"testing"
	"time"

	"github.com/cp7/cp7/server"
)

// BenchmarkQuickCacheHit is what a reconnect with cached credentials costs
// on the event loop: one HMAC-SHA256 and a read-locked map lookup.
func BenchmarkQuickCacheHit(b *testing.B) {
	ch := &Chain{Methods: []Method{&countingMethod{}}, Cache: NewCache(1000, time.Hour)}
	if ch.Authenticate(info("u1", "good")) != 0 {
		b.Fatal("setup: not admitted")
	}
	in := info("u1", "good")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, ok := ch.Quick(in); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkQuickCacheHitParallel: the same from every loop at once.
func BenchmarkQuickCacheHitParallel(b *testing.B) {
	ch := &Chain{Methods: []Method{&countingMethod{}}, Cache: NewCache(1000, time.Hour)}
	ch.Authenticate(info("u1", "good"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		in := &server.ConnInfo{Username: []byte("u1"), Password: []byte("good")}
		for pb.Next() {
			ch.Quick(in)
		}
	})
}
