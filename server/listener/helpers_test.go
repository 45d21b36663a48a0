package listener

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cp7/cp7/internal/testpki"
)

// Certificates are made in the test; no private key is checked in.

type testCA struct {
	*testpki.CA
	pem  []byte
	pool *x509.CertPool
}

func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	ca, err := testpki.NewCA(cn)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{CA: ca, pem: ca.PEM(), pool: ca.Pool()}
}

// issue signs a leaf certificate; client selects clientAuth usage instead of
// a server certificate for 127.0.0.1, ::1 and localhost.
func (ca *testCA) issue(t testing.TB, cn string, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	var leaf *testpki.Leaf
	var err error
	if client {
		leaf, err = ca.Client(serial, cn)
	} else {
		leaf, err = ca.Server(serial, cn, "localhost")
	}
	if err != nil {
		t.Fatal(err)
	}
	return leaf.CertPEM(), leaf.KeyPEM()
}

func (ca *testCA) clientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	leaf, err := ca.Client(7, cn)
	if err != nil {
		t.Fatal(err)
	}
	return leaf.TLS()
}

// tlsFiles writes a server pair (and the client CA when given) to a temp dir.
type tlsFiles struct {
	dir  string
	opts TLSOptions
}

func writeTLSFiles(t testing.TB, ca *testCA, serial int64, clientCA *testCA) *tlsFiles {
	t.Helper()
	dir := t.TempDir()
	f := &tlsFiles{dir: dir, opts: TLSOptions{
		CertFile: filepath.Join(dir, "server.crt"),
		KeyFile:  filepath.Join(dir, "server.key"),
	}}
	f.writeServer(t, ca, serial)
	if clientCA != nil {
		f.opts.ClientCAFile = filepath.Join(dir, "clients.crt")
		writeFile(t, f.opts.ClientCAFile, clientCA.pem)
	}
	return f
}

func (f *tlsFiles) writeServer(t testing.TB, ca *testCA, serial int64) {
	t.Helper()
	c, k := ca.issue(t, "broker", serial, false)
	writeFile(t, f.opts.CertFile, c)
	writeFile(t, f.opts.KeyFile, k)
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newReloader(t *testing.T, o TLSOptions) *CertReloader {
	t.Helper()
	r, err := NewCertReloader(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// echoServer is the fake ConnServer: it reports each connection, then reads
// MQTT packets (fixed header framing only) and writes each back in one Write.
type echoServer struct {
	conns chan connInfo
}

type connInfo struct {
	remote string
	cn     string
	subp   string
	isPeer bool
}

func newEcho() *echoServer { return &echoServer{conns: make(chan connInfo, 16)} }

func (s *echoServer) ServeConn(c net.Conn) {
	info := connInfo{remote: c.RemoteAddr().String()}
	if p, ok := c.(PeerIdentity); ok {
		info.isPeer = true
		info.cn = p.PeerCommonName()
	}
	if w, ok := c.(interface{ Subprotocol() string }); ok {
		info.subp = w.Subprotocol()
	}
	s.conns <- info
	for {
		pkt, err := readPacket(c)
		if err != nil {
			return
		}
		if _, err := c.Write(pkt); err != nil {
			return
		}
	}
}

func (s *echoServer) next(t *testing.T) connInfo {
	t.Helper()
	select {
	case ci := <-s.conns:
		return ci
	case <-time.After(10 * time.Second):
		t.Fatal("no connection reached the ConnServer within 10s")
		return connInfo{}
	}
}

// readPacket reads one MQTT control packet: type byte, variable byte
// integer remaining length, body.
func readPacket(r io.Reader) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return nil, err
	}
	n, rl, mult := 1, 0, 1
	for {
		if n == len(hdr) {
			return nil, errors.New("malformed remaining length")
		}
		if _, err := io.ReadFull(r, hdr[n:n+1]); err != nil {
			return nil, err
		}
		b := hdr[n]
		n++
		rl += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	pkt := make([]byte, n+rl)
	copy(pkt, hdr[:n])
	_, err := io.ReadFull(r, pkt[n:])
	return pkt, err
}

// MQTT packets used as payload.
var (
	pktConnect = []byte{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00, 0x03, 'c', 'i', 'd'}
	pktPing    = []byte{0xC0, 0x00}
	pktPublish = append([]byte{0x30, 0xB2, 0x02, 0x00, 0x03, 'a', '/', 'b', 0x00}, bytes.Repeat([]byte{'x'}, 300)...)
)

// roundTrip writes the packets and reads them back over a stream conn.
func roundTrip(t *testing.T, c net.Conn, pkts ...[]byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(bytes.Join(pkts, nil)); err != nil {
		t.Fatal(err)
	}
	for _, want := range pkts {
		got, err := readPacket(c)
		if err != nil {
			t.Fatalf("reading echo: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("echo = %x, want %x", got, want)
		}
	}
}

// serve runs l.Serve(srv) until the test ends and checks it returned cleanly.
func serve(t *testing.T, l *Listener, srv ConnServer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Serve(srv) }()
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return within 10s of Close")
		}
	})
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
