package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cp7/cp7/server/proxyproto"
)

func startTLS(t *testing.T, o Options, cfg *tls.Config) (*Listener, *echoServer) {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	l, err := ListenTLS(o, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newEcho()
	serve(t, l, srv)
	return l, srv
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestTLSVersions(t *testing.T) {
	ca := newCA(t, "server CA")
	r := newReloader(t, writeTLSFiles(t, ca, 100, nil).opts)
	l, srv := startTLS(t, Options{}, r.TLSConfig())
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			c, err := dialTLS(t, l.Addr().String(), &tls.Config{RootCAs: ca.pool, MinVersion: v, MaxVersion: v})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().Version; got != v {
				t.Fatalf("negotiated %s, want %s", tls.VersionName(got), tls.VersionName(v))
			}
			ci := srv.next(t)
			if ci.remote != c.LocalAddr().String() {
				t.Fatalf("server saw RemoteAddr %s, want the client's %s", ci.remote, c.LocalAddr())
			}
			if !ci.isPeer || ci.cn != "" {
				t.Fatalf("PeerIdentity = %v %q, want a PeerIdentity with no CN", ci.isPeer, ci.cn)
			}
			roundTrip(t, c, pktConnect, pktPing, pktPublish)
		})
	}
}

func TestTLSMinVersion13RefusesTLS12(t *testing.T) {
	ca := newCA(t, "server CA")
	o := writeTLSFiles(t, ca, 100, nil).opts
	o.MinVersion = tls.VersionTLS13
	r := newReloader(t, o)
	l, _ := startTLS(t, Options{}, r.TLSConfig())
	if _, err := dialTLS(t, l.Addr().String(), &tls.Config{RootCAs: ca.pool, MaxVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("TLS 1.2 handshake succeeded against MinVersion TLS 1.3")
	}
}

func TestTLSWrongCARefused(t *testing.T) {
	ca := newCA(t, "server CA")
	other := newCA(t, "other CA")
	r := newReloader(t, writeTLSFiles(t, ca, 100, nil).opts)
	l, _ := startTLS(t, Options{}, r.TLSConfig())
	_, err := dialTLS(t, l.Addr().String(), &tls.Config{RootCAs: other.pool})
	var unknown x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &unknown) {
		t.Fatalf("dial trusting the wrong CA: err = %v, want an unknown-authority error", err)
	}
	waitFor(t, "the refused connection to be released", func() bool { return l.Conns() == 0 })
}

func TestTLSClientCertificate(t *testing.T) {
	ca := newCA(t, "server CA")
	clients := newCA(t, "client CA")
	rogue := newCA(t, "rogue CA")
	r := newReloader(t, writeTLSFiles(t, ca, 100, clients).opts)
	if got := r.TLSConfig().GetConfigForClient; got == nil {
		t.Fatal("TLSConfig has no GetConfigForClient")
	}
	if cfg, _ := r.TLSConfig().GetConfigForClient(nil); cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("ClientAuth = %v, want RequireAndVerifyClientCert", cfg.ClientAuth)
	}
	l, srv := startTLS(t, Options{}, r.TLSConfig())

	t.Run("WithCert", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			c, err := dialTLS(t, l.Addr().String(), &tls.Config{
				RootCAs: ca.pool, MaxVersion: v, Certificates: []tls.Certificate{clients.clientCert(t, "device-42")},
			})
			if err != nil {
				t.Fatal(err)
			}
			ci := srv.next(t)
			if ci.cn != "device-42" {
				t.Fatalf("%s: PeerCommonName = %q, want device-42", tls.VersionName(v), ci.cn)
			}
			roundTrip(t, c, pktConnect)
		}
	})
	refused := func(t *testing.T, certs []tls.Certificate) {
		t.Helper()
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			c, err := dialTLS(t, l.Addr().String(), &tls.Config{RootCAs: ca.pool, MaxVersion: v, Certificates: certs})
			if err == nil {
				// TLS 1.3 clients learn of the refusal on their first read.
				c.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = c.Read(make([]byte, 1))
			}
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: connection accepted, err = %v", tls.VersionName(v), err)
			}
		}
	}
	t.Run("NoCert", func(t *testing.T) { refused(t, nil) })
	t.Run("CertFromOtherCA", func(t *testing.T) {
		refused(t, []tls.Certificate{rogue.clientCert(t, "device-42")})
	})
	select {
	case ci := <-srv.conns:
		t.Fatalf("a refused client reached ServeConn: %+v", ci)
	default:
	}
}

func TestCertReload(t *testing.T) {
	ca := newCA(t, "server CA")
	files := writeTLSFiles(t, ca, 100, nil)
	r := newReloader(t, files.opts)
	l, _ := startTLS(t, Options{}, r.TLSConfig())
	serial := func() int64 {
		t.Helper()
		c, err := dialTLS(t, l.Addr().String(), &tls.Config{RootCAs: ca.pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 100 {
		t.Fatalf("serial = %d, want 100", got)
	}

	files.writeServer(t, ca, 200)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != 200 {
		t.Fatalf("after Reload serial = %d, want 200", got)
	}

	// A broken certificate file: Reload says which file, the old pair stays.
	writeFile(t, files.opts.CertFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"))
	err := r.Reload()
	if err == nil || !strings.Contains(err.Error(), files.opts.CertFile) || !strings.HasPrefix(err.Error(), "listener: ") {
		t.Fatalf("Reload of a broken file: err = %v, want one naming %s", err, files.opts.CertFile)
	}
	if got := serial(); got != 200 {
		t.Fatalf("after a failed reload serial = %d, want 200 kept", got)
	}

	// A key that does not match the certificate.
	files.writeServer(t, ca, 300)
	_, otherKey := ca.issue(t, "x", 1, false)
	writeFile(t, files.opts.KeyFile, otherKey)
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), files.opts.KeyFile) {
		t.Fatalf("Reload with a mismatched key: err = %v", err)
	}
	if got := serial(); got != 200 {
		t.Fatalf("after a mismatched key serial = %d, want 200 kept", got)
	}

	// The poller notices changed files (mtime moved explicitly, so the test
	// does not depend on the file system's timestamp granularity).
	files.writeServer(t, ca, 400)
	future := time.Now().Add(time.Hour)
	for _, f := range []string{files.opts.CertFile, files.opts.KeyFile} {
		if err := os.Chtimes(f, future, future); err != nil {
			t.Fatal(err)
		}
	}
	r.poll()
	if got := serial(); got != 400 {
		t.Fatalf("after poll serial = %d, want 400", got)
	}
	// Unchanged files: poll does not reload (a now-broken file would fail).
	r.mu.Lock()
	before := r.cur.Load()
	r.mu.Unlock()
	r.poll()
	if r.cur.Load() != before {
		t.Fatal("poll reloaded unchanged files")
	}
}

func TestCertReloadClientCA(t *testing.T) {
	ca := newCA(t, "server CA")
	clientsA := newCA(t, "client CA A")
	clientsB := newCA(t, "client CA B")
	files := writeTLSFiles(t, ca, 100, clientsA)
	r := newReloader(t, files.opts)
	l, srv := startTLS(t, Options{}, r.TLSConfig())
	dial := func(ca2 *testCA) error {
		c, err := dialTLS(t, l.Addr().String(), &tls.Config{
			RootCAs: ca.pool, MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca2.clientCert(t, "dev")},
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(clientsA); err != nil {
		t.Fatalf("client of CA A refused: %v", err)
	}
	srv.next(t)
	writeFile(t, files.opts.ClientCAFile, clientsB.pem)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := dial(clientsA); err == nil {
		t.Fatal("client of CA A accepted after the client CA file changed to CA B")
	}
	if err := dial(clientsB); err != nil {
		t.Fatalf("client of CA B refused after reload: %v", err)
	}
	writeFile(t, files.opts.ClientCAFile, []byte("no pem here"))
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), files.opts.ClientCAFile) {
		t.Fatalf("Reload of an empty CA file: err = %v", err)
	}
}

func TestNewCertReloaderErrors(t *testing.T) {
	ca := newCA(t, "server CA")
	good := writeTLSFiles(t, ca, 1, nil).opts
	cases := []struct {
		name string
		edit func(o *TLSOptions)
		want string
	}{
		{"NoCert", func(o *TLSOptions) { o.CertFile = "" }, "certificate file and a key file"},
		{"NoKey", func(o *TLSOptions) { o.KeyFile = "" }, "certificate file and a key file"},
		{"MissingCert", func(o *TLSOptions) { o.CertFile += ".missing" }, ".missing"},
		{"MissingCA", func(o *TLSOptions) { o.ClientCAFile = o.CertFile + ".ca.missing" }, ".ca.missing"},
		{"KeyAsCA", func(o *TLSOptions) { o.ClientCAFile = o.KeyFile }, "holds no PEM certificate"},
		{"BadMinVersion", func(o *TLSOptions) { o.MinVersion = 0x1234 }, "not a TLS version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := good
			c.edit(&o)
			r, err := NewCertReloader(o, nil)
			if err == nil {
				r.Close()
				t.Fatal("NewCertReloader succeeded")
			}
			if !strings.HasPrefix(err.Error(), "listener: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %q, want it to mention %q", err, c.want)
			}
		})
	}
}

// TestTLSProxyHeader: a PROXY header before the TLS handshake sets RemoteAddr.
func TestTLSProxyHeader(t *testing.T) {
	ca := newCA(t, "server CA")
	r := newReloader(t, writeTLSFiles(t, ca, 100, nil).opts)
	loopback, _ := proxyproto.ParseTrusted("127.0.0.0/8")
	l, srv := startTLS(t, Options{Proxy: loopback, ProxyRequired: true}, r.TLSConfig())
	cases := []struct {
		name, want string
		hdr        []byte
	}{
		{"V1TCP4", "203.0.113.7:51000", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 51000 8883\r\n")},
		{"V1TCP6", "[2001:db8::7]:4242", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 4242 8883\r\n")},
		{"V2TCP4", "198.51.100.9:6000", []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc6\x33\x64\x09\x0a\x00\x00\x01\x17\x70\x22\xb3")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Write(c.hdr); err != nil {
				t.Fatal(err)
			}
			tc := tls.Client(raw, &tls.Config{RootCAs: ca.pool, ServerName: "localhost"})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			if got := srv.next(t).remote; got != c.want {
				t.Fatalf("RemoteAddr = %s, want %s", got, c.want)
			}
			roundTrip(t, tc, pktConnect)
		})
	}
	t.Run("MissingRequiredHeader", func(t *testing.T) {
		if _, err := dialTLS(t, l.Addr().String(), &tls.Config{RootCAs: ca.pool}); err == nil {
			t.Fatal("TLS without the required PROXY header was accepted")
		}
	})
}

func TestTLSProxyHeaderFromUntrustedPeer(t *testing.T) {
	ca := newCA(t, "server CA")
	r := newReloader(t, writeTLSFiles(t, ca, 100, nil).opts)
	elsewhere, _ := proxyproto.ParseTrusted("10.0.0.0/8")
	l, srv := startTLS(t, Options{Proxy: elsewhere, ProxyRequired: true}, r.TLSConfig())

	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 51000 8883\r\n"))
	tc := tls.Client(raw, &tls.Config{RootCAs: ca.pool, ServerName: "localhost"})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err == nil {
		t.Fatal("a spoofed PROXY header from an untrusted peer was accepted")
	}
	// A direct client from the untrusted range is served with its own address.
	c, err := dialTLS(t, l.Addr().String(), &tls.Config{RootCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.next(t).remote; got != c.LocalAddr().String() {
		t.Fatalf("RemoteAddr = %s, want %s", got, c.LocalAddr())
	}
}
