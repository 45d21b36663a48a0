package proxyproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// readChunk is the first read buffer: any v1 line (107 bytes) and the v2
// headers load balancers send in practice fit; larger v2 headers grow it to
// their announced length.
const readChunk = 256

// maxEmptyReads bounds reads that return neither bytes nor an error.
const maxEmptyReads = 100

// Conn is a connection whose PROXY header has been consumed. RemoteAddr is
// the header's source address; bytes read past the header are returned by
// Read first. Like any net.Conn, Read must not be called from two goroutines
// at once.
type Conn struct {
	net.Conn
	hdr    Header
	remote net.Addr
	rest   []byte // bytes read past the header, not yet returned by Read
}

// Read returns the bytes buffered past the header, then reads from the
// underlying connection.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		if len(c.rest) == 0 {
			c.rest = nil // release the header buffer
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// RemoteAddr is the client's address: the header's Source when the trusted
// peer relayed the connection, the peer's own address otherwise (no header,
// LOCAL command, UNKNOWN or unsupported family).
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Header is the header the peer sent; its Version is 0 when it sent none.
func (c *Conn) Header() Header { return c.hdr }

// NetConn is the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// WrapConn reads the PROXY header that begins c and returns a *Conn that
// reports the client's real address and replays the bytes read past the
// header. It blocks until the header is decided, for at most timeout (0: no
// deadline), then clears the read deadline.
//
// With a nil trusted set, PROXY is off: c is returned as is without reading.
// Otherwise:
//   - a peer in trusted may send a header; when required, it must (the
//     specification says a receiver configured for PROXY must not guess, §2);
//   - any other peer must not send one: a header from it is refused, and its
//     bytes are replayed untouched. MQTT (first byte 0x10), TLS (0x16) and
//     HTTP requests never look like a PROXY header.
//
// On error the caller must close c.
func WrapConn(c net.Conn, trusted *Trusted, required bool, timeout time.Duration) (net.Conn, error) {
	if trusted == nil {
		return c, nil
	}
	peer := c.RemoteAddr()
	peerTrusted := trusted.Contains(peer)
	if timeout > 0 {
		if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return nil, fmt.Errorf("proxyproto: setting read deadline on %v: %w", peer, err)
		}
	}
	h, buf, off, err := readHeader(c)
	if err != nil {
		if peerTrusted {
			return nil, fmt.Errorf("proxyproto: reading PROXY header from %v: %w", peer, err)
		}
		return nil, fmt.Errorf("proxyproto: reading first bytes from %v: %w", peer, err)
	}
	switch {
	case h.Version != 0 && !peerTrusted:
		return nil, fmt.Errorf("proxyproto: %v sent a PROXY header but is not a trusted proxy; "+
			"add its address to the trusted list if it is a load balancer", peer)
	case h.Version == 0 && peerTrusted && required:
		return nil, fmt.Errorf("proxyproto: trusted proxy %v did not send a PROXY header, which this listener requires; "+
			"enable send-proxy (v1 or v2) on the load balancer", peer)
	}
	if timeout > 0 {
		if err := c.SetReadDeadline(time.Time{}); err != nil {
			return nil, fmt.Errorf("proxyproto: clearing read deadline on %v: %w", peer, err)
		}
	}
	pc := &Conn{Conn: c, hdr: h, remote: peer}
	if h.Command == CmdProxy && h.Source != nil {
		pc.remote = h.Source
	}
	if off < len(buf) {
		pc.rest = buf[off:]
	}
	return pc, nil
}

// readHeader reads from c until Parse decides. It returns the header (Version
// 0 when the stream does not start with one), the bytes read and the offset
// of the first byte after the header.
func readHeader(c net.Conn) (Header, []byte, int, error) {
	buf := make([]byte, readChunk)
	n, empty := 0, 0
	for {
		m, rerr := c.Read(buf[n:])
		n += m
		if m == 0 && rerr == nil {
			if empty++; empty > maxEmptyReads {
				return Header{}, nil, 0, io.ErrNoProgress
			}
			continue
		}
		if n > 0 {
			h, hl, perr := Parse(buf[:n])
			switch {
			case perr == nil:
				return h, buf[:n], hl, nil
			case errors.Is(perr, ErrNotProxy):
				return Header{}, buf[:n], 0, nil
			case !errors.Is(perr, ErrIncomplete):
				return Header{}, nil, 0, perr
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				rerr = io.ErrUnexpectedEOF
			}
			return Header{}, nil, 0, rerr
		}
		if n == len(buf) {
			buf = grow(buf, n)
		}
	}
}

// grow makes room in a full buffer. An incomplete v1 line is always shorter
// than readChunk, so only a v2 header can fill it; it grows to the announced
// length (at most MaxV2Len) plus a chunk for the stream behind it.
func grow(buf []byte, n int) []byte {
	want := n + readChunk
	if n >= v2FixedLen && buf[0] == '\r' {
		want = max(want, v2FixedLen+int(binary.BigEndian.Uint16(buf[14:16]))+readChunk)
	}
	nb := make([]byte, want)
	copy(nb, buf[:n])
	return nb
}
