// Package servertest starts CP7 brokers for tests and talks to them over raw
// sockets, packet by packet. It is imported only by tests; production code
// must not depend on it.
//
// Nothing here sleeps and hopes: every wait is on an event (a packet, a
// closed socket, a condition becoming true) with a deadline, in the style of
// nats-server's checkFor.
package servertest

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cp7/cp7/server"
)

// Start starts a broker on 127.0.0.1:0 and closes it in t.Cleanup. configure,
// if not nil, changes the test defaults (see TestConfig) before the broker is
// made. The broker's log goes to t.Log.
func Start(t testing.TB, configure func(*server.Config)) *server.Server {
	t.Helper()
	srv, _ := StartLogged(t, configure)
	return srv
}

// StartLogged is Start that also returns the broker's log, captured so that
// a test can assert what was logged.
func StartLogged(t testing.TB, configure func(*server.Config)) (*server.Server, *Log) {
	t.Helper()
	lg := &Log{t: t}
	t.Cleanup(lg.stop) // registered first, so it runs after the broker's Close
	srv := start(t, configure, slog.New(slog.NewTextHandler(lg, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return srv, lg
}

// StartSilent is Start with the broker's log discarded, for long runs such
// as fuzzing where a captured log would only grow.
func StartSilent(t testing.TB, configure func(*server.Config)) *server.Server {
	t.Helper()
	return start(t, configure, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func start(t testing.TB, configure func(*server.Config), log *slog.Logger) *server.Server {
	t.Helper()
	cfg := TestConfig()
	if configure != nil {
		configure(&cfg)
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("servertest: server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("servertest: Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("servertest: Close: %v", err)
		}
	})
	return srv
}

// TestConfig is server.DefaultConfig with a loopback listener on a free port
// and two event loops, so that connections land on different loops.
func TestConfig() server.Config {
	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.EventLoops = 2
	cfg.ConnectTimeout = 5 * time.Second
	return cfg
}

// Log is a broker log captured in memory (and copied to t.Log while the test
// runs). Safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	t       testing.TB
	stopped bool
}

// Write implements io.Writer for slog's handler.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.stopped && l.t != nil {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// stop ends the copy to t.Log: testing panics on a Log after the test.
func (l *Log) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

// String returns everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines returns the logged lines that contain every one of substrs.
func (l *Log) Lines(substrs ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(nil, 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		for _, s := range substrs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// WaitFor waits until a line containing every one of substrs is logged and
// returns the first such line; it fails the test after timeout.
func (l *Log) WaitFor(t testing.TB, timeout time.Duration, substrs ...string) string {
	t.Helper()
	var line string
	Eventually(t, timeout, func() bool {
		if ls := l.Lines(substrs...); len(ls) > 0 {
			line = ls[0]
			return true
		}
		return false
	}, "a log line containing "+strings.Join(substrs, " and "))
	return line
}

// pollInterval is how often Eventually checks its condition.
const pollInterval = 5 * time.Millisecond

// Eventually checks cond until it is true, and fails the test with msg if it
// is still false after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("servertest: not true after %v: %s", timeout, msg)
	}
}

// Poll checks cond until it is true or timeout passes, and reports whether
// it became true. For use off the test goroutine, where Fatal is not allowed.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		<-tick.C
	}
}
