package proxyproto

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// addrConn gives a net.Pipe end a TCP peer address, so Trusted can judge it.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

var (
	lbAddr     = &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 40000}
	clientAddr = &net.TCPAddr{IP: net.ParseIP("198.51.100.20"), Port: 50000}
	trustLB, _ = ParseTrusted("10.0.0.0/8")
)

// pipe returns the server end (with peer address remote) and the client end.
func pipe(t *testing.T, remote net.Addr) (net.Conn, net.Conn) {
	t.Helper()
	s, c := net.Pipe()
	t.Cleanup(func() { s.Close(); c.Close() })
	return addrConn{Conn: s, remote: remote}, c
}

// send writes the chunks one Write each (net.Pipe delivers them as separate
// reads) and reports the outcome on the returned channel.
func send(c net.Conn, chunks ...[]byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		for _, ch := range chunks {
			if _, err := c.Write(ch); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// readN reads exactly n bytes from c with a deadline.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	c.SetReadDeadline(time.Time{})
	return b
}

func TestWrapConnReplaysBytesAfterHeader(t *testing.T) {
	for _, v := range validVectors {
		t.Run(v.name, func(t *testing.T) {
			s, c := pipe(t, lbAddr)
			// Header and the first MQTT bytes in one write, then more later.
			sent := send(c, append(append([]byte{}, v.in...), mqttConnect[:5]...), mqttConnect[5:])
			wc, err := WrapConn(s, trustLB, true, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := v.src
			if want == "" {
				want = lbAddr.String()
			}
			if got := wc.RemoteAddr().String(); got != want {
				t.Fatalf("RemoteAddr = %s, want %s", got, want)
			}
			pc := wc.(*Conn)
			if h := pc.Header(); h.Version != v.version || h.Command != v.command {
				t.Fatalf("Header() = %+v", h)
			}
			if got := readN(t, wc, len(mqttConnect)); !bytes.Equal(got, mqttConnect) {
				t.Fatalf("stream after header = %x, want %x", got, mqttConnect)
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWrapConnHeaderByteByByte(t *testing.T) {
	v := vec("V2ProxyTCP6TLVs") // over 256 bytes: the read buffer must grow
	chunks := make([][]byte, 0, len(v)+1)
	for i := range v {
		chunks = append(chunks, v[i:i+1])
	}
	chunks = append(chunks, mqttConnect)
	s, c := pipe(t, lbAddr)
	sent := send(c, chunks...)
	wc, err := WrapConn(s, trustLB, true, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := wc.RemoteAddr().String(); got != "[2001:db8::1]:51000" {
		t.Fatalf("RemoteAddr = %s", got)
	}
	if got := readN(t, wc, len(mqttConnect)); !bytes.Equal(got, mqttConnect) {
		t.Fatalf("stream after header = %x", got)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

func TestWrapConnLargeV2Header(t *testing.T) {
	hdr := v2(0x21, 0x11, addrTCP4, tlv(0x04, make([]byte, 5000)))
	s, c := pipe(t, lbAddr)
	sent := send(c, append(hdr, mqttConnect...))
	wc, err := WrapConn(s, trustLB, true, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := wc.RemoteAddr().String(); got != "172.19.0.1:42578" {
		t.Fatalf("RemoteAddr = %s", got)
	}
	if got := readN(t, wc, len(mqttConnect)); !bytes.Equal(got, mqttConnect) {
		t.Fatalf("stream after header = %x", got)
	}
	<-sent
}

func TestWrapConnNoHeader(t *testing.T) {
	cases := []struct {
		name     string
		peer     net.Addr
		required bool
		wantErr  string
	}{
		{"TrustedOptional", lbAddr, false, ""},
		{"TrustedRequired", lbAddr, true, "did not send a PROXY header"},
		{"Untrusted", clientAddr, false, ""},
		{"UntrustedRequired", clientAddr, true, ""}, // required applies to trusted peers only
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, cl := pipe(t, c.peer)
			send(cl, mqttConnect[:1], mqttConnect[1:])
			wc, err := WrapConn(s, trustLB, c.required, 5*time.Second)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if wc.RemoteAddr() != c.peer {
				t.Fatalf("RemoteAddr = %v, want the peer %v", wc.RemoteAddr(), c.peer)
			}
			if h := wc.(*Conn).Header(); h.Version != 0 {
				t.Fatalf("Header() = %+v, want none", h)
			}
			if got := readN(t, wc, len(mqttConnect)); !bytes.Equal(got, mqttConnect) {
				t.Fatalf("replayed stream = %x, want %x", got, mqttConnect)
			}
		})
	}
}

func TestWrapConnUntrustedHeaderRefused(t *testing.T) {
	for _, name := range []string{"V1TCP4", "V2ProxyTCP4", "V2LocalUnspec"} {
		t.Run(name, func(t *testing.T) {
			s, c := pipe(t, clientAddr)
			send(c, append(append([]byte{}, vec(name)...), mqttConnect...))
			_, err := WrapConn(s, trustLB, false, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), "not a trusted proxy") {
				t.Fatalf("err = %v, want a refusal of the untrusted header", err)
			}
		})
	}
}

func TestWrapConnMalformed(t *testing.T) {
	s, c := pipe(t, lbAddr)
	send(c, []byte("PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n"))
	_, err := WrapConn(s, trustLB, true, 5*time.Second)
	if !errors.Is(err, errV1Port) {
		t.Fatalf("err = %v, want %v", err, errV1Port)
	}
}

func TestWrapConnTimeout(t *testing.T) {
	s, c := pipe(t, lbAddr)
	send(c, []byte("PROXY TCP4 1.2.3.4")) // then stall
	_, err := WrapConn(s, trustLB, true, 20*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

func TestWrapConnEOFInHeader(t *testing.T) {
	s, c := pipe(t, lbAddr)
	go func() {
		c.Write([]byte("\r\n\r\n\x00"))
		c.Close()
	}()
	_, err := WrapConn(s, trustLB, true, 5*time.Second)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestWrapConnOff(t *testing.T) {
	s, _ := pipe(t, lbAddr)
	wc, err := WrapConn(s, nil, true, time.Second)
	if err != nil || wc != s {
		t.Fatalf("WrapConn with nil Trusted = %v, %v; want the conn itself", wc, err)
	}
}

// TestWrapConnTCP runs over a real loopback socket, whose deadline must be
// cleared after the header so a slow client is not cut off later.
func TestWrapConnTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	loop, _ := ParseTrusted("127.0.0.0/8,::1")
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := c.Write(append([]byte("PROXY TCP6 2001:db8::7 2001:db8::1 4242 1883\r\n"), mqttConnect[:3]...)); err != nil {
		t.Fatal(err)
	}
	wc, err := WrapConn(s, loop, true, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := wc.RemoteAddr().String(); got != "[2001:db8::7]:4242" {
		t.Fatalf("RemoteAddr = %s", got)
	}
	if pc := wc.(*Conn); pc.NetConn() != s {
		t.Fatal("NetConn is not the accepted conn")
	}
	b := make([]byte, 3)
	if _, err := io.ReadFull(wc, b); err != nil || !bytes.Equal(b, mqttConnect[:3]) {
		t.Fatalf("replay = %x, %v", b, err)
	}
	// Without a cleared deadline this read would fail after 10ms; the client
	// writes only after the server is already waiting.
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(mqttConnect)-3)
		io.ReadFull(wc, b)
		got <- b
	}()
	time.AfterFunc(50*time.Millisecond, func() { c.Write(mqttConnect[3:]) })
	select {
	case b := <-got:
		if !bytes.Equal(b, mqttConnect[3:]) {
			t.Fatalf("later bytes = %x, want %x", b, mqttConnect[3:])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no bytes after the header within 5s")
	}
}
