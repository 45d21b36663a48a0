package listener_test

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/internal/testpki"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/listener"
	"github.com/cp7/cp7/server/servertest"
)

// recordingAuth accepts everyone and remembers what it was shown.
type recordingAuth struct {
	mu       sync.Mutex
	username string
	cn       string
}

func (a *recordingAuth) Authenticate(info *server.ConnInfo) codec.ReasonCode {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.username, a.cn = string(info.Username), info.CommonName
	return codec.Success
}

// TestClientCertificateCNIsTheUsername runs the real broker behind a TLS
// listener that requires client certificates: with CNAsUsername, a client
// that sends no MQTT username is authenticated as its certificate's CN.
func TestClientCertificateCNIsTheUsername(t *testing.T) {
	auth := &recordingAuth{}
	srv := servertest.Start(t, func(c *server.Config) {
		c.CNAsUsername = true
		c.Auth = auth
	})
	tc := dialClientCert(t, srv, 11, "device-42")
	c := servertest.Wrap(t, tc)
	c.MustConnect(servertest.NewConnect("cn-client", true, 30), false)

	auth.mu.Lock()
	defer auth.mu.Unlock()
	if auth.cn != "device-42" || auth.username != "device-42" {
		t.Fatalf("authenticator saw username %q and CN %q, want both device-42", auth.username, auth.cn)
	}
}

// dialClientCert starts a TLS listener for srv that verifies client
// certificates (CN as the username) and dials it with a certificate for cn
// signed by a throwaway device CA. The listener closes with the test.
func dialClientCert(t *testing.T, srv *server.Server, serial int64, cn string) *tls.Conn {
	t.Helper()
	certFile, keyFile, roots := selfSigned(t)
	clientCA, err := testpki.NewCA("device CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "client-ca.pem")
	if err := os.WriteFile(caFile, clientCA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	device, err := clientCA.Client(serial, cn)
	if err != nil {
		t.Fatal(err)
	}
	r, err := listener.NewCertReloader(listener.TLSOptions{CertFile: certFile, KeyFile: keyFile,
		ClientCAFile: caFile, CNAsUsername: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	tl, err := listener.ListenTLS(listener.Options{Addr: "127.0.0.1:0"}, r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tl.Close() })
	go tl.Serve(srv)
	raw, err := net.DialTimeout("tcp", tl.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "localhost",
		Certificates: []tls.Certificate{device.TLS()}})
}
