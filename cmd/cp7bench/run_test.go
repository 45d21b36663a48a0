package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for cp7bench when the tool starts
// child processes of itself (-procs): a child is recognised by its
// environment and runs the tool instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runTool runs cp7bench with args and returns its exit status and summary.
func runTool(t *testing.T, args ...string) (int, Summary, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	var s Summary
	if !strings.HasPrefix(last, "{") {
		var err error
		if s, err = ParseSummary(last); err != nil {
			t.Fatalf("%v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
		}
		if n := strings.Count(out.String(), "SUMMARY"); n != 1 {
			t.Fatalf("%d SUMMARY lines, want exactly 1:\n%s", n, out.String())
		}
	}
	return code, s, errb.String()
}

func TestRunPubSubQoS1(t *testing.T) {
	b := startFakeBroker(t, 0)
	code, s, stderr := runTool(t, "pubsub", "-p", b.port(), "-pubs", "2", "-subs", "3",
		"-t", "bench/%i", "-ft", "bench/+", "-q", "1", "-r", "400", "-duration", "400ms", "-V", "5")
	if code != 0 || s.Errors != 0 {
		t.Fatalf("exit %d errors %d: %s", code, s.Errors, stderr)
	}
	if s.Conns != 5 || s.Pubs != 2 || s.Subs != 3 || s.Procs != 1 {
		t.Fatalf("conns %d pubs %d subs %d procs %d", s.Conns, s.Pubs, s.Subs, s.Procs)
	}
	if s.Sent == 0 || s.Acked != s.Sent {
		t.Fatalf("sent %d acked %d: every QoS 1 publish must be acked", s.Sent, s.Acked)
	}
	// Each publish matches all three subscribers' bench/+.
	if s.Expected != 3*s.Sent || s.Recv != s.Expected || s.Lost != 0 {
		t.Fatalf("sent %d expected %d recv %d lost %d", s.Sent, s.Expected, s.Recv, s.Lost)
	}
	if s.P50us <= 0 || s.P99us < s.P50us || s.MaxUs < s.P99us {
		t.Fatalf("latency p50 %v p99 %v max %v", s.P50us, s.P99us, s.MaxUs)
	}
	// Pacing never runs ahead of the offered rate (each publisher may be one
	// message ahead: its first is due at its start).
	if limit := s.OfferedRate*s.DurationSec + 2; float64(s.Sent) > limit {
		t.Fatalf("sent %d in %.3f s, more than the offered %v msg/s allow (%.0f)", s.Sent, s.DurationSec, s.OfferedRate, limit)
	}
	if s.OfferedRate != 800 {
		t.Fatalf("offered rate %v, want 2 x 400", s.OfferedRate)
	}
}

func TestRunPubLimit(t *testing.T) {
	b := startFakeBroker(t, 0)
	code, s, stderr := runTool(t, "pub", "-p", b.port(), "-c", "3", "-L", "100", "-r", "100000", "-duration", "5s", "-json")
	_ = s
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, s, stderr = runTool(t, "pub", "-p", b.port(), "-c", "3", "-L", "100", "-r", "100000", "-duration", "5s")
	if code != 0 || s.Sent != 100 {
		t.Fatalf("exit %d sent %d, want exactly the -L 100: %s", code, s.Sent, stderr)
	}
	if s.Lost != -1 || s.Expected != -1 {
		t.Fatalf("pub mode cannot know losses: lost %d expected %d", s.Lost, s.Expected)
	}
}

func TestRunConnChildren(t *testing.T) {
	b := startFakeBroker(t, 0)
	code, s, stderr := runTool(t, "conn", "-p", b.port(), "-c", "30", "-procs", "3", "-duration", "200ms",
		"-ifaddr", "127.0.0.2-127.0.0.4", "-broker-pid", itoa(os.Getpid()))
	if code != 0 || s.Procs != 3 || s.Conns != 30 || s.ConnFail != 0 {
		t.Fatalf("exit %d procs %d conns %d failed %d: %s", code, s.Procs, s.Conns, s.ConnFail, stderr)
	}
	if s.ConnectRate <= 0 || s.BrokerRSSKB <= 0 {
		t.Fatalf("connect rate %v broker rss %d", s.ConnectRate, s.BrokerRSSKB)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns != 30 {
		t.Fatalf("broker saw %d connections, want 30", b.conns)
	}
}

func TestRunPubSubChildren(t *testing.T) {
	b := startFakeBroker(t, 0)
	code, s, stderr := runTool(t, "pubsub", "-p", b.port(), "-pubs", "2", "-subs", "4", "-procs", "2",
		"-t", "x/%i", "-ft", "x/#", "-r", "300", "-duration", "300ms")
	if code != 0 || s.Conns != 6 || s.Sent == 0 || s.Recv != 4*s.Sent || s.Lost != 0 {
		t.Fatalf("exit %d conns %d sent %d recv %d lost %d: %s", code, s.Conns, s.Sent, s.Recv, s.Lost, stderr)
	}
	if s.P50us <= 0 {
		t.Fatalf("children's latency histograms were not merged: p50 %v", s.P50us)
	}
}

func TestRunRefused(t *testing.T) {
	b := startFakeBroker(t, 5) // 3.1.1 "not authorized"
	code, s, stderr := runTool(t, "conn", "-p", b.port(), "-c", "4", "-duration", "100ms")
	if code != 1 || s.Conns != 0 || s.ConnFail != 4 || s.Errors != 4 {
		t.Fatalf("exit %d conns %d failed %d errors %d", code, s.Conns, s.ConnFail, s.Errors)
	}
	if !strings.Contains(stderr, "refused the connection with code 0x05") {
		t.Fatalf("stderr does not say why: %s", stderr)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bogus"},
		{"pub", "-q", "3"},
		{"conn", "-V", "6"},
		{"conn", "-duration", "0s"},
		{"conn", "-ifaddr", "nope"},
		{"conn", "extra"},
		{"conn", "-procs", "1", "-c", "100000"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, code, errb.String())
		} else if !strings.HasPrefix(errb.String(), "cp7bench: ") {
			t.Errorf("%v: error lacks the prefix: %s", args, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"-help"}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), "-ifaddr") {
		t.Errorf("help: exit %d\n%s", code, out.String())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
