package listener_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
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
	certFile, keyFile, roots := selfSigned(t)
	caKey, caCert, caFile := clientCA(t)
	r, err := listener.NewCertReloader(listener.TLSOptions{CertFile: certFile, KeyFile: keyFile,
		ClientCAFile: caFile, CNAsUsername: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tl, err := listener.ListenTLS(listener.Options{Addr: "127.0.0.1:0"}, r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go tl.Serve(srv)

	raw, err := net.DialTimeout("tcp", tl.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "localhost",
		Certificates: []tls.Certificate{clientCert(t, caKey, caCert, "device-42")}})
	c := servertest.Wrap(t, tc)
	c.MustConnect(servertest.NewConnect("cn-client", true, 30), false)

	auth.mu.Lock()
	defer auth.mu.Unlock()
	if auth.cn != "device-42" || auth.username != "device-42" {
		t.Fatalf("authenticator saw username %q and CN %q, want both device-42", auth.username, auth.cn)
	}
}

// clientCA makes a CA for client certificates and writes its certificate.
func clientCA(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(10),
		Subject:               pkix.Name{CommonName: "device CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "client-ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, cert, file
}

// clientCert issues a client certificate with common name cn.
func clientCert(t *testing.T, caKey *ecdsa.PrivateKey, ca *x509.Certificate, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(11),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
