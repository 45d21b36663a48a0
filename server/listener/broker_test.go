package listener_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cp7/cp7/server/listener"
	"github.com/cp7/cp7/server/proxyproto"
	"github.com/cp7/cp7/server/servertest"
)

// TestBrokerOverTLSAndWebSocket runs the real broker behind the listeners:
// a publisher over TLS (behind a PROXY header) reaches a subscriber over
// WebSocket, and the other way round.
func TestBrokerOverTLSAndWebSocket(t *testing.T) {
	srv := servertest.Start(t, nil)
	certFile, keyFile, roots := selfSigned(t)
	r, err := listener.NewCertReloader(listener.TLSOptions{CertFile: certFile, KeyFile: keyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	loopback, _ := proxyproto.ParseTrusted("127.0.0.0/8")
	tl, err := listener.ListenTLS(listener.Options{Addr: "127.0.0.1:0", Proxy: loopback}, r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go tl.Serve(srv)
	wl, err := listener.ListenWS(listener.Options{Addr: "127.0.0.1:0"}, "/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wl.Close()
	go wl.Serve(srv)

	raw, err := net.DialTimeout("tcp", tl.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("PROXY TCP4 203.0.113.9 10.0.0.1 40000 8883\r\n"))
	tc := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	pub := servertest.Wrap(t, tc)
	pub.MustConnect(servertest.NewConnect("tls-client", true, 30), false)

	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial("ws://"+wl.Addr().String()+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := servertest.Wrap(t, &clientWS{ws: ws})
	sub.MustConnect(servertest.NewConnect("ws-client", true, 30), false)
	sub.MustSubscribe(1, 1, "t/ws")
	pub.MustSubscribe(1, 1, "t/tls")

	pub.Publish("t/ws", "over tls", 0, false, 0)
	sub.ExpectMessage("t/ws", "over tls", 0, false)
	sub.Publish("t/tls", "over websocket", 0, false, 0)
	pub.ExpectMessage("t/tls", "over websocket", 0, false)
}

// clientWS is a client-side WebSocket as a net.Conn for servertest.
type clientWS struct {
	ws *websocket.Conn
	r  io.Reader
}

func (c *clientWS) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			_, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *clientWS) Write(p []byte) (int, error) {
	return len(p), c.ws.WriteMessage(websocket.BinaryMessage, p)
}
func (c *clientWS) Close() error                       { return c.ws.Close() }
func (c *clientWS) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *clientWS) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *clientWS) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *clientWS) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
func (c *clientWS) SetDeadline(t time.Time) error {
	c.ws.SetReadDeadline(t)
	return c.ws.SetWriteDeadline(t)
}

// selfSigned writes a self-signed server certificate for 127.0.0.1 and
// localhost and returns its files and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "broker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}
