package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestMaxConns(t *testing.T) {
	ca := newCA(t, "server CA")
	r := newReloader(t, writeTLSFiles(t, ca, 100, nil).opts)
	l, srv := startTLS(t, Options{MaxConns: 1}, r.TLSConfig())
	cfg := &tls.Config{RootCAs: ca.pool}

	first, err := dialTLS(t, l.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	if l.Conns() != 1 {
		t.Fatalf("Conns = %d, want 1", l.Conns())
	}

	// Over the cap: closed at accept, so the handshake fails.
	if c, err := dialTLS(t, l.Addr().String(), cfg); err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection over MaxConns was served")
		}
	}
	if l.Rejected() != 1 {
		t.Fatalf("Rejected = %d, want 1", l.Rejected())
	}

	first.Close()
	waitFor(t, "the first connection to be released", func() bool { return l.Conns() == 0 })
	third, err := dialTLS(t, l.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	roundTrip(t, third, pktPing)
}

// TestCloseAbortsHandshakes: Close must not wait out the handshake timeout
// of clients that connect and send nothing.
func TestCloseAbortsHandshakes(t *testing.T) {
	for _, kind := range []string{"tls", "ws"} {
		t.Run(kind, func(t *testing.T) {
			ca := newCA(t, "server CA")
			cfg := newReloader(t, writeTLSFiles(t, ca, 100, nil).opts).TLSConfig()
			o := Options{Addr: "127.0.0.1:0", HandshakeTimeout: time.Hour}
			var l *Listener
			var err error
			if kind == "tls" {
				l, err = ListenTLS(o, cfg)
			} else {
				l, err = ListenWS(o, "/mqtt", nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- l.Serve(newEcho()) }()
			silent, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			waitFor(t, "the silent connection to be accepted", func() bool { return l.Conns() == 1 })

			closed := make(chan error, 1)
			go func() { closed <- l.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close waited for a handshake (timeout one hour)")
			}
			if err := <-served; err != nil {
				t.Fatalf("Serve returned %v after Close", err)
			}
			silent.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
				t.Fatalf("silent client read %v, want the connection closed", err)
			}
			if l.Conns() != 0 {
				t.Fatalf("Conns = %d after Close", l.Conns())
			}
		})
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestServeLifecycle(t *testing.T) {
	l, err := ListenWS(Options{Addr: "127.0.0.1:0"}, "/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Serve(nil); err == nil {
		t.Fatal("Serve(nil) succeeded")
	}
	serve(t, l, newEcho())
	waitFor(t, "Serve to start", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.acceptDone != nil
	})
	if err := l.Serve(newEcho()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("second Serve: err = %v", err)
	}

	l2, err := ListenTLS(Options{Addr: "127.0.0.1:0"}, &tls.Config{Certificates: []tls.Certificate{{}}})
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if err := l2.Serve(newEcho()); err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
	if err := l2.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestServeContext(t *testing.T) {
	ca := newCA(t, "server CA")
	cfg := newReloader(t, writeTLSFiles(t, ca, 100, nil).opts).TLSConfig()
	for _, kind := range []string{"tls", "wss"} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			o := Options{Addr: "127.0.0.1:0"}
			if kind == "tls" {
				done <- ServeTLS(ctx, o, cfg, newEcho())
			} else {
				done <- ServeWS(ctx, o, "/mqtt", cfg, newEcho())
			}
		}()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: returned %v after cancel", kind, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: did not return after cancel", kind)
		}
	}
}

func TestListenErrors(t *testing.T) {
	cfg := &tls.Config{Certificates: []tls.Certificate{{}}}
	cases := []struct {
		name string
		f    func() (*Listener, error)
		want string
	}{
		{"EmptyAddr", func() (*Listener, error) { return ListenTLS(Options{}, cfg) }, "empty tls listen address"},
		{"NilConfig", func() (*Listener, error) { return ListenTLS(Options{Addr: "127.0.0.1:0"}, nil) }, "needs a TLS configuration"},
		{"NoCertificate", func() (*Listener, error) { return ListenTLS(Options{Addr: "127.0.0.1:0"}, &tls.Config{}) }, "no certificate"},
		{"BadAddr", func() (*Listener, error) { return ListenTLS(Options{Addr: "127.0.0.1:99999"}, cfg) }, "listen on"},
		{"NegativeMax", func() (*Listener, error) { return ListenTLS(Options{Addr: "127.0.0.1:0", MaxConns: -1}, cfg) }, "negative"},
		{"WSPath", func() (*Listener, error) { return ListenWS(Options{Addr: "127.0.0.1:0"}, "mqtt", nil) }, "must start with /"},
		{"WSEmptyAddr", func() (*Listener, error) { return ListenWS(Options{}, "/mqtt", cfg) }, "empty wss listen address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := c.f()
			if err == nil {
				l.Close()
				t.Fatal("succeeded")
			}
			if !strings.HasPrefix(err.Error(), "listener: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %q, want it to mention %q", err, c.want)
			}
		})
	}
}
