package pool

import (
	"bytes"
	"sync"
	"testing"
)

func TestGetPut(t *testing.T) {
	b := Get()
	if b == nil || len(b.B) != 0 {
		t.Fatalf("Get returned %v, want an empty buffer", b)
	}
	b.B = append(b.B, "hello"...)
	Put(b)
	Put(nil) // ignored
	b = Get()
	if len(b.B) != 0 {
		t.Fatalf("buffer from the pool has len %d, want 0", len(b.B))
	}
	Put(b)
}

func TestPutDropsOversized(t *testing.T) {
	// A buffer over MaxPooled must not come back. sync.Pool gives no
	// guarantee of returning what was put, so check the only thing that
	// holds: no Get, ever, returns a buffer larger than MaxPooled.
	big := &Buffer{B: make([]byte, 0, MaxPooled+1)}
	Put(big)
	for range 100 {
		b := Get()
		if cap(b.B) > MaxPooled {
			t.Fatalf("Get returned a %d-byte buffer, over MaxPooled", cap(b.B))
		}
		defer Put(b)
	}
}

func TestClassOf(t *testing.T) {
	cases := []struct{ n, class int }{
		{0, 0}, {1, 0}, {64, 0}, {65, 1}, {128, 1}, {129, 2},
		{1 << 19, 13}, {1<<19 + 1, 14}, {MaxPooled, 14}, {MaxPooled + 1, -1},
	}
	for _, c := range cases {
		if got := classOf(c.n); got != c.class {
			t.Errorf("classOf(%d) = %d, want %d", c.n, got, c.class)
		}
		if c.class >= 0 && 1<<(c.class+minClassBits) < c.n {
			t.Errorf("class %d is too small for %d bytes", c.class, c.n)
		}
	}
	if numClasses != 15 {
		t.Errorf("numClasses = %d", numClasses)
	}
}

func TestShared(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 70000, MaxPooled, MaxPooled + 10} {
		src := bytes.Repeat([]byte{0xAB}, n)
		s := NewShared(src)
		if n > 0 {
			src[0] = 0 // the Shared holds a copy
		}
		if s.Len() != n || !bytes.Equal(s.Bytes(), bytes.Repeat([]byte{0xAB}, n)) {
			t.Fatalf("NewShared(%d bytes): got %d bytes, content intact=%v", n, s.Len(), bytes.Equal(s.Bytes(), bytes.Repeat([]byte{0xAB}, n)))
		}
		if n <= MaxPooled && cap(s.Bytes()) < n {
			t.Fatalf("capacity %d < %d", cap(s.Bytes()), n)
		}
		s.Retain()
		s.Release()
		if s.Len() != n { // still held once
			t.Fatalf("released too early")
		}
		s.Release()
	}
}

func TestSharedReuse(t *testing.T) {
	// After the last Release the value may be reused by NewShared of the same
	// class, with the new content.
	a := NewShared([]byte("first message"))
	a.Release()
	b := NewShared([]byte("second"))
	if string(b.Bytes()) != "second" {
		t.Fatalf("got %q", b.Bytes())
	}
	b.Release()
}

func TestSharedMisuse(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	// Built by hand so that the over-released value never enters the pool.
	s := &Shared{b: []byte("x"), class: -1}
	s.refs.Store(1)
	s.Release()
	mustPanic("double Release", s.Release)
	s2 := &Shared{b: []byte("x"), class: -1}
	mustPanic("Retain after the last Release", s2.Retain)
}

// TestSharedConcurrent hands one Shared to several goroutines, as a publish is
// handed to several event loops; run with -race.
func TestSharedConcurrent(t *testing.T) {
	const loops, rounds = 4, 500
	msg := bytes.Repeat([]byte("m"), 300)
	var wg sync.WaitGroup
	for range rounds {
		s := NewShared(msg)
		for range loops {
			s.Retain()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer s.Release()
				if !bytes.Equal(s.Bytes(), msg) {
					t.Error("a holder saw different bytes")
				}
			}()
		}
		s.Release() // the publisher's own reference
	}
	wg.Wait()
}

func BenchmarkGetPut(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		buf := Get()
		buf.B = append(buf.B, payload...)
		Put(buf)
	}
}

func BenchmarkGetPutParallel(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			buf := Get()
			buf.B = append(buf.B, payload...)
			Put(buf)
		}
	})
}

func BenchmarkShared(b *testing.B) {
	msg := bytes.Repeat([]byte("x"), 200)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		s := NewShared(msg)
		for range 8 { // eight subscribers on other loops
			s.Retain()
		}
		for range 9 {
			s.Release()
		}
	}
}

func BenchmarkSharedParallel(b *testing.B) {
	msg := bytes.Repeat([]byte("x"), 200)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := NewShared(msg)
			s.Retain()
			s.Release()
			s.Release()
		}
	})
}
