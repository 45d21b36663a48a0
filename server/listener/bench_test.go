package listener

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
)

// A 64-byte QoS 0 PUBLISH echoed through a listener. Client, fake server and
// the echo's packet framing all run in this process, so the numbers are for
// the whole round trip, not the listener alone.
var pkt64 = append([]byte{0x30, 62, 0x00, 0x03, 'a', '/', 'b', 0x00}, bytes.Repeat([]byte{'x'}, 56)...)

func BenchmarkWSEcho64(b *testing.B) {
	l, err := ListenWS(Options{Addr: "127.0.0.1:0"}, "/mqtt", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go l.Serve(newEcho())
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(l, "ws"), http.Header{"Sec-Websocket-Protocol": {"mqtt"}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	buf := make([]byte, len(pkt64))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt64)))
	for b.Loop() {
		if err := ws.WriteMessage(websocket.BinaryMessage, pkt64); err != nil {
			b.Fatal(err)
		}
		_, r, err := ws.NextReader()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTLSEcho64(b *testing.B) {
	ca := newCA(b, "server CA")
	r, err := NewCertReloader(writeTLSFiles(b, ca, 1, nil).opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	l, err := ListenTLS(Options{Addr: "127.0.0.1:0"}, r.TLSConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go l.Serve(newEcho())
	c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: ca.pool})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, len(pkt64))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt64)))
	for b.Loop() {
		if _, err := c.Write(pkt64); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}
