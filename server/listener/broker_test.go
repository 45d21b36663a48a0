package listener_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cp7/cp7/internal/testpki"
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

// selfSigned writes a server certificate for 127.0.0.1 and localhost, signed
// by a fresh CA, and returns its files and a pool trusting that CA.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	ca, err := testpki.NewCA("broker test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(2, "broker", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(certFile, leaf.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, leaf.KeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, ca.Pool()
}
