package server

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestCloseEndsGoroutineConnections: Close ends TLS/WebSocket connections
// handed to ServeConn, also those that never sent CONNECT, and ServeConn
// refuses new ones afterwards.
func TestCloseEndsGoroutineConnections(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = ""
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	served := make(chan struct{})
	go func() { srv.ServeConn(server); close(served) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.closeMu.Lock()
		n := len(srv.goConns)
		srv.closeMu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ServeConn did not register the connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn still running after Close")
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Fatal("client side still open after Close")
	}
	late, lateClient := net.Pipe()
	done := make(chan struct{})
	go func() { srv.ServeConn(late); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn after Close did not return")
	}
	_ = lateClient.Close()
}
