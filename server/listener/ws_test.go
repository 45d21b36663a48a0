package listener

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cp7/cp7/server/proxyproto"
)

func startWS(t *testing.T, o Options, cfg *tls.Config) (*Listener, *echoServer) {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	l, err := ListenWS(o, "/mqtt", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newEcho()
	serve(t, l, srv)
	return l, srv
}

func wsURL(l *Listener, scheme string) string {
	return scheme + "://" + l.Addr().String() + "/mqtt"
}

func dialWS(t *testing.T, d *websocket.Dialer, url string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if d.HandshakeTimeout == 0 {
		d.HandshakeTimeout = 10 * time.Second
	}
	c, resp, err := d.Dial(url, nil)
	if err == nil {
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	return c, resp, err
}

// readMessages reads binary messages until want bytes arrived and returns
// each message.
func readMessages(t *testing.T, c *websocket.Conn, want int) [][]byte {
	t.Helper()
	var msgs [][]byte
	for got := 0; got < want; {
		typ, m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("reading echo after %d/%d bytes: %v", got, want, err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("server sent message type %d, want binary", typ)
		}
		msgs = append(msgs, m)
		got += len(m)
	}
	return msgs
}

func TestWSSubprotocol(t *testing.T) {
	l, srv := startWS(t, Options{}, nil)
	cases := []struct {
		offer []string
		want  string
	}{
		{[]string{"mqtt"}, "mqtt"},
		{[]string{"mqttv3.1"}, "mqttv3.1"},
		{[]string{"mqttv3.1", "mqtt"}, "mqtt"}, // [MQTT-6.0.0-4]
		{[]string{"wamp", "mqtt"}, "mqtt"},
	}
	for _, c := range cases {
		ws, resp, err := dialWS(t, &websocket.Dialer{Subprotocols: c.offer}, wsURL(l, "ws"))
		if err != nil {
			t.Fatalf("offer %v: %v", c.offer, err)
		}
		if got := ws.Subprotocol(); got != c.want {
			t.Fatalf("offer %v: subprotocol %q, want %q", c.offer, got, c.want)
		}
		if got := resp.Header.Get("Sec-Websocket-Protocol"); got != c.want {
			t.Fatalf("offer %v: response header %q", c.offer, got)
		}
		ci := srv.next(t)
		if ci.subp != c.want {
			t.Fatalf("ServeConn saw subprotocol %q, want %q", ci.subp, c.want)
		}
		if ci.remote != ws.LocalAddr().String() {
			t.Fatalf("RemoteAddr = %s, want %s", ci.remote, ws.LocalAddr())
		}
		if ci.cn != "" {
			t.Fatalf("PeerCommonName = %q on plain ws", ci.cn)
		}
		ws.Close()
	}
	for _, offer := range [][]string{nil, {"wamp"}, {"mqttv5"}} {
		_, resp, err := dialWS(t, &websocket.Dialer{Subprotocols: offer}, wsURL(l, "ws"))
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("offer %v: err = %v resp = %v, want 400", offer, err, resp)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"mqtt"`) {
			t.Fatalf("offer %v: 400 body %q does not say to offer \"mqtt\"", offer, body)
		}
	}
}

func TestWSWrongPathAndPlainHTTP(t *testing.T) {
	l, _ := startWS(t, Options{}, nil)
	_, resp, err := dialWS(t, &websocket.Dialer{Subprotocols: []string{"mqtt"}}, "ws://"+l.Addr().String()+"/other")
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("wrong path: err = %v resp = %v, want 404", err, resp)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	res, err := hc.Get("http://" + l.Addr().String() + "/mqtt")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: status %d, want 400", res.StatusCode)
	}
	waitFor(t, "plain HTTP connections to close", func() bool { return l.Conns() == 0 })
}

// TestWSPacketsAcrossFrames: MQTT packets split over several messages and
// frames, and several packets in one message, reach the ConnServer intact
// [MQTT-6.0.0-2]; each server Write is one binary message.
func TestWSPacketsAcrossFrames(t *testing.T) {
	l, srv := startWS(t, Options{}, nil)
	// A small write buffer makes gorilla send long messages as a first frame
	// and continuation frames.
	ws, _, err := dialWS(t, &websocket.Dialer{Subprotocols: []string{"mqtt"}, WriteBufferSize: 64}, wsURL(l, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	all := bytes.Join([][]byte{pktConnect, pktPing, pktPublish, pktPing}, nil)
	messages := [][]byte{
		all[:1],   // the CONNECT's first byte alone
		all[1:5],  // its remaining length and the start of its body
		all[5:25], // the rest of CONNECT, PINGREQ and the PUBLISH's first bytes
		all[25:],  // the PUBLISH (over several frames) and a PINGREQ
	}
	for _, m := range messages {
		if err := ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
			t.Fatal(err)
		}
	}
	// An empty message between packets is skipped.
	ws.WriteMessage(websocket.BinaryMessage, nil)
	ws.WriteMessage(websocket.BinaryMessage, pktPing)

	want := [][]byte{pktConnect, pktPing, pktPublish, pktPing, pktPing}
	got := readMessages(t, ws, len(bytes.Join(want, nil)))
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want one per packet (%d)", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("message %d = %x, want %x", i, got[i], want[i])
		}
	}
}

func TestWSTextFrameClosesWith1003(t *testing.T) {
	l, srv := startWS(t, Options{}, nil)
	ws, _, err := dialWS(t, &websocket.Dialer{Subprotocols: []string{"mqtt"}}, wsURL(l, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	if err := ws.WriteMessage(websocket.TextMessage, pktPing); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseUnsupportedData) {
		t.Fatalf("after a text frame: err = %v, want close 1003", err)
	}
	waitFor(t, "the connection to be released", func() bool { return l.Conns() == 0 })
}

func TestWSClientCloseIsEOF(t *testing.T) {
	got := make(chan error, 1)
	srv := connServerFunc(func(c net.Conn) {
		_, err := c.Read(make([]byte, 1))
		got <- err
	})
	l, err := ListenWS(Options{Addr: "127.0.0.1:0"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, srv)
	ws, _, err := dialWS(t, &websocket.Dialer{Subprotocols: []string{"mqtt"}}, wsURL(l, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	select {
	case err := <-got:
		if err != io.EOF {
			t.Fatalf("Read after a normal close = %v, want io.EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return after the client closed")
	}
}

type connServerFunc func(net.Conn)

func (f connServerFunc) ServeConn(c net.Conn) { f(c) }

func TestWSCompression(t *testing.T) {
	l, srv := startWS(t, Options{}, nil)
	ws, resp, err := dialWS(t, &websocket.Dialer{Subprotocols: []string{"mqtt"}, EnableCompression: true}, wsURL(l, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	if ext := resp.Header.Get("Sec-Websocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("Sec-WebSocket-Extensions = %q, want permessage-deflate", ext)
	}
	srv.next(t)
	if err := ws.WriteMessage(websocket.BinaryMessage, bytes.Join([][]byte{pktConnect, pktPublish}, nil)); err != nil {
		t.Fatal(err)
	}
	got := readMessages(t, ws, len(pktConnect)+len(pktPublish))
	if len(got) != 2 || !bytes.Equal(got[0], pktConnect) || !bytes.Equal(got[1], pktPublish) {
		t.Fatalf("compressed echo = %x", got)
	}
}

func TestWSSClientCertificate(t *testing.T) {
	ca := newCA(t, "server CA")
	clients := newCA(t, "client CA")
	r := newReloader(t, writeTLSFiles(t, ca, 100, clients).opts)
	l, srv := startWS(t, Options{}, r.TLSConfig())
	d := &websocket.Dialer{Subprotocols: []string{"mqtt"}, TLSClientConfig: &tls.Config{
		RootCAs: ca.pool, Certificates: []tls.Certificate{clients.clientCert(t, "browser-7")},
	}}
	ws, _, err := dialWS(t, d, wsURL(l, "wss"))
	if err != nil {
		t.Fatal(err)
	}
	ci := srv.next(t)
	if ci.cn != "browser-7" || ci.subp != "mqtt" {
		t.Fatalf("ServeConn saw %+v, want CN browser-7 and subprotocol mqtt", ci)
	}
	ws.WriteMessage(websocket.BinaryMessage, pktConnect)
	if got := readMessages(t, ws, len(pktConnect)); !bytes.Equal(got[0], pktConnect) {
		t.Fatalf("echo = %x", got)
	}
	// Without a client certificate the handshake fails.
	d.TLSClientConfig = &tls.Config{RootCAs: ca.pool}
	if _, _, err := dialWS(t, d, wsURL(l, "wss")); err == nil {
		t.Fatal("wss without a client certificate was accepted")
	}
}

func TestWSProxyHeader(t *testing.T) {
	loopback, _ := proxyproto.ParseTrusted("127.0.0.1")
	for _, tlsOn := range []bool{false, true} {
		var cfg *tls.Config
		var clientTLS *tls.Config
		scheme := "ws"
		if tlsOn {
			ca := newCA(t, "server CA")
			cfg = newReloader(t, writeTLSFiles(t, ca, 100, nil).opts).TLSConfig()
			clientTLS = &tls.Config{RootCAs: ca.pool}
			scheme = "wss"
		}
		t.Run(scheme, func(t *testing.T) {
			l, srv := startWS(t, Options{Proxy: loopback, ProxyRequired: true}, cfg)
			d := &websocket.Dialer{
				Subprotocols:    []string{"mqtt"},
				TLSClientConfig: clientTLS,
				NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					_, err = c.Write([]byte("PROXY TCP6 2001:db8::99 2001:db8::1 34567 8084\r\n"))
					return c, err
				},
			}
			ws, _, err := dialWS(t, d, wsURL(l, scheme))
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.next(t).remote; got != "[2001:db8::99]:34567" {
				t.Fatalf("RemoteAddr = %s, want the PROXY source", got)
			}
			ws.WriteMessage(websocket.BinaryMessage, pktPing)
			readMessages(t, ws, len(pktPing))
		})
	}
}

// TestWSXForwardedForIgnored: the header a client can set itself never
// becomes its address.
func TestWSXForwardedForIgnored(t *testing.T) {
	l, srv := startWS(t, Options{}, nil)
	d := &websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial(wsURL(l, "ws"), http.Header{"X-Forwarded-For": {"203.0.113.1"}, "X-Real-Ip": {"203.0.113.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if got := srv.next(t).remote; got != ws.LocalAddr().String() {
		t.Fatalf("RemoteAddr = %s, want the TCP peer %s", got, ws.LocalAddr())
	}
}
