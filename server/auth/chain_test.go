package auth

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
)

// countingMethod knows users "u*"; password "good" passes. It counts its
// checks and can hold them until released.
type countingMethod struct {
	checks  atomic.Int64
	release chan struct{}
}

func (m *countingMethod) Name() string { return "counting" }

func (m *countingMethod) Check(info *server.ConnInfo) Result {
	if len(info.Username) == 0 || info.Username[0] != 'u' {
		return Result{}
	}
	m.checks.Add(1)
	if m.release != nil {
		<-m.release
	}
	if string(info.Password) != "good" {
		return Result{Decision: Deny}
	}
	return Result{Decision: Allow, User: "proved-" + string(info.Username), CacheFor: time.Hour,
		Rules: &server.ClientRules{Publish: []string{"a/#"}}}
}

func info(user, pass string) *server.ConnInfo {
	return &server.ConnInfo{Username: []byte(user), Password: []byte(pass)}
}

// TestReconnectStormCostsOneCheck: 50 concurrent checks of the same
// credentials run the slow method once; later connects are decided by
// Quick from the cache, with the method's user and rules.
func TestReconnectStormCostsOneCheck(t *testing.T) {
	m := &countingMethod{release: make(chan struct{})}
	ch := &Chain{Methods: []Method{m}, Cache: NewCache(100, time.Minute)}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ch.Authenticate(info("u1", "good")) == codec.Success {
				ok.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.checks.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(m.release)
	wg.Wait()
	if ok.Load() != 50 || m.checks.Load() != 1 {
		t.Fatalf("%d of 50 admitted with %d slow checks, want 50 with 1", ok.Load(), m.checks.Load())
	}
	i := info("u1", "good")
	rc, done := ch.Quick(i)
	if !done || rc != codec.Success || i.User != "proved-u1" || i.Rules == nil || i.Rules.Publish[0] != "a/#" {
		t.Fatalf("Quick after the check: %v %v user %q rules %v", rc, done, i.User, i.Rules)
	}
	if _, done := ch.Quick(info("u1", "bad")); done {
		t.Fatal("another password must not hit the cache")
	}
	if rc := ch.Authenticate(info("u1", "bad")); rc != codec.BadUserNameOrPassword {
		t.Fatalf("wrong password: %v", rc)
	}
	ch.Invalidate()
	if _, done := ch.Quick(info("u1", "good")); done {
		t.Fatal("Invalidate must empty the cache")
	}
}

func TestChainDecisions(t *testing.T) {
	m := &countingMethod{}
	ch := &Chain{Methods: []Method{m}}
	if rc := ch.Authenticate(info("x", "good")); rc != codec.BadUserNameOrPassword {
		t.Fatalf("a user no method knows: %v", rc)
	}
	if rc, done := ch.Quick(info("", "")); !done || rc != codec.NotAuthorized {
		t.Fatalf("anonymous without AllowAnonymous: %v %v", rc, done)
	}
	ch.AllowAnonymous = true
	if rc, done := ch.Quick(info("", "")); !done || rc != codec.Success {
		t.Fatalf("anonymous with AllowAnonymous: %v %v", rc, done)
	}
	ch.CertUsers = true
	ci := &server.ConnInfo{Username: []byte("dev-7"), CommonName: "dev-7"}
	if rc, done := ch.Quick(ci); !done || rc != codec.Success {
		t.Fatalf("certificate user: %v %v", rc, done)
	}
	ci.CommonName = "dev-8"
	if _, done := ch.Quick(ci); done {
		t.Fatal("a user name other than the certificate's CN is not the certificate's")
	}
}

func TestCacheBoundsAndKeys(t *testing.T) {
	c := NewCache(10, time.Minute)
	for i := range 100 {
		c.Put(c.Key([]byte{byte(i)}, []byte("pw")), Entry{}, time.Minute)
	}
	if c.Len() > 10 {
		t.Fatalf("cache holds %d entries, bound 10", c.Len())
	}
	if c.Key([]byte("ab"), []byte("c")) == c.Key([]byte("a"), []byte("bc")) {
		t.Fatal("user/password split must change the key")
	}
	k := c.Key([]byte("u"), []byte("p"))
	c.Put(k, Entry{User: "u"}, time.Nanosecond)
	time.Sleep(time.Millisecond)
	if _, ok := c.Get(k); ok {
		t.Fatal("an entry past its TTL must not be returned")
	}
	other := NewCache(10, time.Minute)
	if other.Key([]byte("u"), []byte("p")) == k {
		t.Fatal("keys are per process (random HMAC key): two caches must differ")
	}
}
