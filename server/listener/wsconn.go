package listener

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// closeGrace bounds how long Close waits to send the WebSocket close frame
// (for instance behind a blocked write to a slow consumer).
const closeGrace = 500 * time.Millisecond

// maxEmptyMessages bounds the empty WebSocket messages one Read skips.
const maxEmptyMessages = 1024

var (
	errTextFrame = errors.New("listener: WebSocket client sent a non-binary message; " +
		"MQTT must be sent in binary frames [MQTT-6.0.0-1], connection closed")
	errEmptyMessages = errors.New("listener: WebSocket client sent too many empty messages in a row; connection closed")
)

// wsConn presents a WebSocket as the byte stream MQTT needs.
//
// Read returns bytes across message and frame boundaries: one MQTT packet may
// span several WebSocket messages and one message may hold several packets
// [MQTT-6.0.0-2]. Each Write sends one binary message. Read must be called
// from one goroutine at a time; Write may be called from several (they are
// serialized); Close may be called from any goroutine at any time.
//
// A read that fails (a deadline included) is final: WebSocket framing cannot
// resume after a partial read, so the connection must then be closed.
type wsConn struct {
	ws   *websocket.Conn
	cn   string
	kind string // "ws" or "wss"

	r    io.Reader // the current message, nil between messages
	rerr error     // sticky read error

	wmu sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

func newWSConn(ws *websocket.Conn, cn string) *wsConn {
	return &wsConn{ws: ws, cn: cn}
}

func (c *wsConn) Read(p []byte) (int, error) {
	if c.rerr != nil {
		return 0, c.rerr
	}
	for empty := 0; ; {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				c.rerr = readErr(err)
				return 0, c.rerr
			}
			if typ != websocket.BinaryMessage {
				// [MQTT-6.0.0-1] Any other data frame: close the connection.
				// 1003 tells the client it sent a type we cannot accept.
				c.rerr = errTextFrame
				c.closeWith(websocket.CloseUnsupportedData, "MQTT needs binary frames")
				return 0, c.rerr
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 || len(p) == 0 {
				return n, nil
			}
			if empty++; empty > maxEmptyMessages {
				c.rerr = errEmptyMessages
				c.closeWith(websocket.ClosePolicyViolation, "too many empty messages")
				return 0, c.rerr
			}
			continue
		}
		if err != nil {
			c.rerr = readErr(err)
			return n, c.rerr
		}
		return n, nil
	}
}

// readErr turns a normal close by the client into io.EOF.
func readErr(err error) error {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return io.EOF
	}
	return err
}

// Write sends p as one binary message.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends a normal close frame (best effort, bounded by closeGrace) and
// closes the connection. It is safe to call more than once and concurrently
// with Read and Write, which it unblocks.
func (c *wsConn) Close() error {
	c.closeWith(websocket.CloseNormalClosure, "")
	return c.closeErr
}

func (c *wsConn) closeWith(code int, text string) {
	c.closeOnce.Do(func() {
		// WriteControl may run concurrently with Write (gorilla allows it).
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(closeGrace))
		c.closeErr = c.ws.Close()
	})
}

func (c *wsConn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr is the TCP peer, or the PROXY header's source when the
// listener has PROXY on (the hijacked connection reports it).
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }

// PeerCommonName is the verified client certificate's CommonName on wss://.
func (c *wsConn) PeerCommonName() string { return c.cn }

// ListenerKind names the listener in the broker's metrics: ws or wss.
func (c *wsConn) ListenerKind() string { return c.kind }

// Subprotocol is the negotiated WebSocket subprotocol: "mqtt" or "mqttv3.1".
func (c *wsConn) Subprotocol() string { return c.ws.Subprotocol() }
