package main

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cp7/cp7/internal/testpki"
)

// testPKI is a throwaway CA and a server certificate it signed for
// 127.0.0.1 and broker.test, made in memory for one test. Only the CA
// certificate is written to disk (for -cafile); no private key is.
type testPKI struct {
	caFile string
	server tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	ca, err := testpki.NewCA("cp7bench test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(2, "broker.test", "broker.test")
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{caFile: filepath.Join(t.TempDir(), "ca.pem"), server: leaf.TLS()}
	if err := os.WriteFile(p.caFile, ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sourceRecorder is a listener that remembers each accepted connection's
// remote IP, under the TLS layer.
type sourceRecorder struct {
	net.Listener
	mu  sync.Mutex
	ips map[string]int
}

func (r *sourceRecorder) Accept() (net.Conn, error) {
	c, err := r.Listener.Accept()
	if err == nil {
		r.mu.Lock()
		r.ips[c.RemoteAddr().(*net.TCPAddr).IP.String()]++
		r.mu.Unlock()
	}
	return c, err
}

// startTLSFakeBroker runs the fake broker behind a TLS listener that accepts
// nothing but TLS 1.2 or later with the PKI's server certificate.
func startTLSFakeBroker(t *testing.T, p testPKI) (*fakeBroker, *sourceRecorder) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &sourceRecorder{Listener: raw, ips: map[string]int{}}
	ln := tls.NewListener(rec, &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12})
	return startFakeBrokerOn(t, ln, 0), rec
}

// MQTT over TLS end to end, across child processes (each builds its own TLS
// config from the flags) and from spread source addresses (-ifaddr binds
// under the TLS layer).
func TestRunTLSPubSubChildrenSourceAddrs(t *testing.T) {
	p := newTestPKI(t)
	b, rec := startTLSFakeBroker(t, p)
	code, s, stderr := runTool(t, "pubsub", "-tls", "-cafile", p.caFile, "-p", b.port(),
		"-pubs", "2", "-subs", "2", "-procs", "2", "-ifaddr", "127.0.0.2-127.0.0.3",
		"-t", "x/%i", "-ft", "x/#", "-q", "1", "-r", "300", "-duration", "300ms")
	if code != 0 || s.Conns != 4 || s.ConnFail != 0 || s.Errors != 0 {
		t.Fatalf("exit %d conns %d failed %d errors %d: %s", code, s.Conns, s.ConnFail, s.Errors, stderr)
	}
	if s.Sent == 0 || s.Acked != s.Sent || s.Recv != 2*s.Sent || s.Lost != 0 {
		t.Fatalf("sent %d acked %d recv %d lost %d: every QoS 1 publish reaches both subscribers", s.Sent, s.Acked, s.Recv, s.Lost)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ips["127.0.0.2"] != 2 || rec.ips["127.0.0.3"] != 2 || len(rec.ips) != 2 {
		t.Fatalf("connections by source address %v, want 2 each from 127.0.0.2 and 127.0.0.3", rec.ips)
	}
}

// Verification: the broker's certificate is checked against -cafile (or the
// system roots) and -servername, unless -insecure; a plain client cannot
// talk to a TLS listener.
func TestRunTLSVerification(t *testing.T) {
	p := newTestPKI(t)
	b, _ := startTLSFakeBroker(t, p)
	for _, tc := range []struct {
		name   string
		args   []string
		ok     bool
		reason string // in stderr when not ok
	}{
		{"cafile, IP SAN", []string{"-tls", "-cafile", p.caFile}, true, ""},
		{"cafile, DNS SAN", []string{"-tls", "-cafile", p.caFile, "-servername", "broker.test"}, true, ""},
		{"insecure", []string{"-tls", "-insecure"}, true, ""},
		{"system roots", []string{"-tls"}, false, "certificate"},
		{"wrong name", []string{"-tls", "-cafile", p.caFile, "-servername", "other.test"}, false, "other.test"},
		{"no TLS", nil, false, "cp7bench: client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"conn", "-p", b.port(), "-c", "2", "-duration", "100ms", "-connect-timeout", "5s"}, tc.args...)
			code, s, stderr := runTool(t, args...)
			if tc.ok {
				if code != 0 || s.Conns != 2 || s.ConnFail != 0 {
					t.Fatalf("exit %d conns %d failed %d: %s", code, s.Conns, s.ConnFail, stderr)
				}
				return
			}
			if code != 1 || s.Conns != 0 || s.ConnFail != 2 {
				t.Fatalf("exit %d conns %d failed %d, want every connection to fail: %s", code, s.Conns, s.ConnFail, stderr)
			}
			if !strings.Contains(stderr, tc.reason) {
				t.Fatalf("stderr does not say %q: %s", tc.reason, stderr)
			}
		})
	}
}

func TestRunTLSUsageErrors(t *testing.T) {
	p := newTestPKI(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"conn", "-cafile", p.caFile}, "add -tls"},
		{[]string{"conn", "-insecure"}, "add -tls"},
		{[]string{"conn", "-servername", "x"}, "add -tls"},
		{[]string{"conn", "-tls", "-cafile", p.caFile, "-insecure"}, "contradict"},
		{[]string{"conn", "-tls", "-cafile", filepath.Join(t.TempDir(), "missing.pem")}, "-cafile"},
		{[]string{"conn", "-tls", "-cafile", notPEM}, "no PEM certificate"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", tc.args, code, errb.String())
		} else if !strings.HasPrefix(errb.String(), "cp7bench: ") || !strings.Contains(errb.String(), tc.says) {
			t.Errorf("%v: error %q lacks the prefix or %q", tc.args, errb.String(), tc.says)
		}
	}
}
