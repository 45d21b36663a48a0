package servertest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
)

// Timeout is the default deadline for a packet the test expects. It is
// generous: reaching it means the broker is broken, not slow.
const Timeout = 5 * time.Second

// Conn is a raw MQTT client for tests: it writes bytes as given and reads
// whole packets with deadlines. Its methods fail the test on unexpected
// input, so they must be called from the test's goroutine.
type Conn struct {
	t       testing.TB
	nc      net.Conn
	rbuf    []byte
	Version byte // protocol version used to encode and decode; Version311 by default
}

// Dial connects to addr and closes the connection in t.Cleanup.
func Dial(t testing.TB, addr net.Addr) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr.String(), Timeout)
	if err != nil {
		t.Fatalf("servertest: dial %s: %v", addr, err)
	}
	return Wrap(t, nc)
}

// Wrap makes a Conn of an open connection (a net.Pipe end, for instance) and
// closes it in t.Cleanup.
func Wrap(t testing.TB, nc net.Conn) *Conn {
	c := &Conn{t: t, nc: nc, Version: codec.Version311}
	t.Cleanup(func() { _ = nc.Close() })
	return c
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the connection without DISCONNECT.
func (c *Conn) Close() { _ = c.nc.Close() }

// Write sends b as it is.
func (c *Conn) Write(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("servertest: write: %v", err)
	}
}

// Packet is one whole packet read from the broker. Raw is owned by the
// packet: decoded fields may alias it.
type Packet struct {
	Header codec.FixedHeader
	Raw    []byte // fixed header included
}

// Body is the packet after its fixed header.
func (p Packet) Body() []byte { return p.Raw[p.Header.HeaderLen:] }

// Type is the packet's type.
func (p Packet) Type() codec.PacketType { return p.Header.Type }

func (p Packet) String() string {
	return fmt.Sprintf("%s flags=%04b remaining=%d % x", p.Header.Type, p.Header.Flags, p.Header.Remaining, p.Raw[:min(len(p.Raw), 32)])
}

// ErrTimeout is returned by ReadPacket when no whole packet arrived in time.
var ErrTimeout = errors.New("servertest: no packet before the deadline")

// ReadPacket returns the next packet, ErrTimeout if none arrives within
// timeout, or the read error (io.EOF, a reset) if the connection closed.
func (c *Conn) ReadPacket(timeout time.Duration) (Packet, error) {
	deadline := time.Now().Add(timeout)
	var chunk [4096]byte
	for {
		if len(c.rbuf) > 0 {
			h, err := codec.ParseFixedHeader(c.rbuf)
			switch {
			case err == nil && len(c.rbuf) >= h.Len():
				raw := append([]byte(nil), c.rbuf[:h.Len()]...)
				c.rbuf = c.rbuf[:copy(c.rbuf, c.rbuf[h.Len():])]
				return Packet{Header: h, Raw: raw}, nil
			case err != nil && err != codec.ErrIncomplete:
				return Packet{}, fmt.Errorf("servertest: broker sent a malformed packet % x: %w", c.rbuf[:min(len(c.rbuf), 16)], err)
			}
		}
		_ = c.nc.SetReadDeadline(deadline)
		n, err := c.nc.Read(chunk[:])
		c.rbuf = append(c.rbuf, chunk[:n]...)
		if err != nil && n == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return Packet{}, ErrTimeout
			}
			return Packet{}, err
		}
	}
}

// Next returns the next packet, failing the test if none arrives within
// Timeout or the connection closes.
func (c *Conn) Next() Packet {
	c.t.Helper()
	p, err := c.ReadPacket(Timeout)
	if err != nil {
		c.t.Fatalf("servertest: waiting for a packet: %v", err)
	}
	return p
}

// Expect returns the next packet and fails the test unless it has type want.
func (c *Conn) Expect(want codec.PacketType) Packet {
	c.t.Helper()
	p := c.Next()
	if p.Type() != want {
		c.t.Fatalf("servertest: got %v, want %s", p, want)
	}
	return p
}

// ExpectClosed reads until the broker closes the connection and returns the
// packets it sent before; it fails the test if the connection is still open
// after timeout.
func (c *Conn) ExpectClosed(timeout time.Duration) []Packet {
	c.t.Helper()
	var got []Packet
	deadline := time.Now().Add(timeout)
	for {
		p, err := c.ReadPacket(time.Until(deadline))
		if err == nil {
			got = append(got, p)
			continue
		}
		if err == ErrTimeout {
			c.t.Fatalf("servertest: connection still open after %v (packets before: %v)", timeout, got)
		}
		return got
	}
}

// Closed reports whether the broker closed the connection within timeout,
// discarding packets; unlike ExpectClosed it does not fail the test.
func (c *Conn) Closed(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.ReadPacket(time.Until(deadline))
		if err == nil {
			continue
		}
		return err != ErrTimeout
	}
}

// NewConnect returns a CONNECT for MQTT 3.1.1 with the given client id,
// clean session flag and keepalive in seconds.
func NewConnect(id string, clean bool, keepAlive uint16) *codec.Connect {
	return &codec.Connect{ProtocolVersion: codec.Version311, ClientID: []byte(id), CleanStart: clean, KeepAlive: keepAlive}
}

// WithWill sets a will on p and returns it.
func WithWill(p *codec.Connect, topic, payload string, qos byte, retain bool) *codec.Connect {
	p.WillFlag, p.WillTopic, p.WillPayload, p.WillQoS, p.WillRetain = true, []byte(topic), []byte(payload), qos, retain
	return p
}

// Connect sends p and returns the CONNACK, failing the test if another
// packet or none comes back. It does not check the return code.
func (c *Conn) Connect(p *codec.Connect) codec.Connack {
	c.t.Helper()
	c.Version = p.ProtocolVersion
	c.Write(codec.AppendConnect(nil, p))
	return c.ExpectConnack()
}

// ExpectConnack reads and decodes the next packet as a CONNACK.
func (c *Conn) ExpectConnack() codec.Connack {
	c.t.Helper()
	pk := c.Expect(codec.CONNACK)
	var ack codec.Connack
	if err := ack.Decode(pk.Body(), c.Version); err != nil {
		c.t.Fatalf("servertest: bad CONNACK %v: %v", pk, err)
	}
	return ack
}

// MustConnect connects with a 3.1.1 CONNECT and fails the test unless it is
// accepted with the given session present flag.
func (c *Conn) MustConnect(p *codec.Connect, sessionPresent bool) {
	c.t.Helper()
	ack := c.Connect(p)
	if ack.ReasonCode != 0 || ack.SessionPresent != sessionPresent {
		c.t.Fatalf("servertest: CONNACK %q: code %d, session present %v; want code 0, session present %v",
			p.ClientID, ack.ReasonCode, ack.SessionPresent, sessionPresent)
	}
}

// DialConnect dials addr and connects as id (3.1.1, no keepalive), failing
// the test unless the broker accepts with the given session present flag.
func DialConnect(t testing.TB, addr net.Addr, id string, clean, sessionPresent bool) *Conn {
	t.Helper()
	c := Dial(t, addr)
	c.MustConnect(NewConnect(id, clean, 0), sessionPresent)
	return c
}

// Subscribe subscribes to each filter at qos with packet id pid and returns
// the SUBACK return codes.
func (c *Conn) Subscribe(pid uint16, qos byte, filters ...string) []codec.ReasonCode {
	c.t.Helper()
	p := codec.Subscribe{PacketID: pid}
	for _, f := range filters {
		p.Subs = append(p.Subs, codec.Subscription{Filter: []byte(f), QoS: qos})
	}
	return c.SubscribeWith(&p)
}

// SubscribeWith sends p and returns the SUBACK return codes, failing the
// test unless the SUBACK is the next packet and carries p's packet id.
func (c *Conn) SubscribeWith(p *codec.Subscribe) []codec.ReasonCode {
	c.t.Helper()
	c.Write(codec.AppendSubscribe(nil, p, c.Version))
	pk := c.Expect(codec.SUBACK)
	var ack codec.Suback
	if err := ack.Decode(pk.Body(), c.Version); err != nil {
		c.t.Fatalf("servertest: bad SUBACK %v: %v", pk, err)
	}
	if ack.PacketID != p.PacketID {
		c.t.Fatalf("servertest: SUBACK for packet id %d, want %d", ack.PacketID, p.PacketID)
	}
	return ack.ReasonCodes
}

// MustSubscribe subscribes and fails the test unless every filter is granted
// qos.
func (c *Conn) MustSubscribe(pid uint16, qos byte, filters ...string) {
	c.t.Helper()
	codes := c.Subscribe(pid, qos, filters...)
	for i, rc := range codes {
		if byte(rc) != qos {
			c.t.Fatalf("servertest: SUBACK code %#x for %q, want %d", byte(rc), filters[i], qos)
		}
	}
}

// Unsubscribe unsubscribes from filters and waits for the UNSUBACK.
func (c *Conn) Unsubscribe(pid uint16, filters ...string) {
	c.t.Helper()
	p := codec.Unsubscribe{PacketID: pid}
	for _, f := range filters {
		p.Filters = append(p.Filters, []byte(f))
	}
	c.Write(codec.AppendUnsubscribe(nil, &p, c.Version))
	pk := c.Expect(codec.UNSUBACK)
	var ack codec.Unsuback
	if err := ack.Decode(pk.Body(), c.Version); err != nil || ack.PacketID != pid {
		c.t.Fatalf("servertest: bad UNSUBACK %v for packet id %d: %v", pk, pid, err)
	}
}

// Publish sends a PUBLISH; for QoS 1 and 2 pid must be non-zero. It does not
// wait for the acknowledgement.
func (c *Conn) Publish(topic, payload string, qos byte, retain bool, pid uint16) {
	c.t.Helper()
	p := codec.Publish{Topic: []byte(topic), Payload: []byte(payload), QoS: qos, Retain: retain, PacketID: pid}
	c.Write(codec.AppendPublish(nil, &p, c.Version))
}

// PublishAcked publishes and completes the QoS flow: nothing for QoS 0,
// PUBACK for QoS 1, PUBREC/PUBREL/PUBCOMP for QoS 2. The acknowledgements
// must be the next packets on the connection.
func (c *Conn) PublishAcked(topic, payload string, qos byte, retain bool, pid uint16) {
	c.t.Helper()
	c.Publish(topic, payload, qos, retain, pid)
	switch qos {
	case 1:
		c.ExpectAck(codec.PUBACK, pid)
	case 2:
		c.ExpectAck(codec.PUBREC, pid)
		c.SendAck(codec.PUBREL, pid)
		c.ExpectAck(codec.PUBCOMP, pid)
	}
}

// ExpectAck reads the next packet and fails the test unless it is an
// acknowledgement of type typ for pid.
func (c *Conn) ExpectAck(typ codec.PacketType, pid uint16) {
	c.t.Helper()
	pk := c.Expect(typ)
	var a codec.Ack
	if err := a.Decode(typ, pk.Body(), c.Version); err != nil {
		c.t.Fatalf("servertest: bad %s %v: %v", typ, pk, err)
	}
	if a.PacketID != pid {
		c.t.Fatalf("servertest: %s for packet id %d, want %d", typ, a.PacketID, pid)
	}
}

// SendAck sends a PUBACK, PUBREC, PUBREL or PUBCOMP for pid.
func (c *Conn) SendAck(typ codec.PacketType, pid uint16) {
	c.t.Helper()
	c.Write(codec.AppendAck(nil, &codec.Ack{Type: typ, PacketID: pid}, c.Version))
}

// ExpectPublish reads the next packet and decodes it as a PUBLISH; its
// slices are owned by the caller.
func (c *Conn) ExpectPublish() *codec.Publish {
	c.t.Helper()
	return c.DecodePublish(c.Expect(codec.PUBLISH))
}

// DecodePublish decodes pk as a PUBLISH, failing the test if it is not one.
func (c *Conn) DecodePublish(pk Packet) *codec.Publish {
	c.t.Helper()
	if pk.Type() != codec.PUBLISH {
		c.t.Fatalf("servertest: got %v, want PUBLISH", pk)
	}
	p := new(codec.Publish)
	if err := p.Decode(pk.Header.Flags, pk.Body(), c.Version); err != nil {
		c.t.Fatalf("servertest: bad PUBLISH %v: %v", pk, err)
	}
	return p
}

// ExpectMessage reads the next PUBLISH and fails the test unless it has the
// given topic, payload, QoS and retain flag.
func (c *Conn) ExpectMessage(topic, payload string, qos byte, retain bool) *codec.Publish {
	c.t.Helper()
	p := c.ExpectPublish()
	if string(p.Topic) != topic || string(p.Payload) != payload || p.QoS != qos || p.Retain != retain {
		c.t.Fatalf("servertest: got PUBLISH topic %q payload %q qos %d retain %v dup %v; want topic %q payload %q qos %d retain %v",
			p.Topic, p.Payload, p.QoS, p.Retain, p.Dup, topic, payload, qos, retain)
	}
	return p
}

// Ping sends PINGREQ and fails the test unless PINGRESP is the next packet.
// It is also a fence: every packet the broker queued for this connection
// before it read the PINGREQ has then been read.
func (c *Conn) Ping() {
	c.t.Helper()
	c.Write(codec.AppendPingreq(nil))
	c.Expect(codec.PINGRESP)
}

// Fence sends PINGREQ and returns the PUBLISH packets that arrive before the
// PINGRESP, answering each QoS 1 one with PUBACK when ack is set; any other
// packet fails the test. Everything the broker wrote to c before it read the
// PINGREQ has then arrived, so an empty result proves nothing was queued.
func (c *Conn) Fence(ack bool) []*codec.Publish {
	c.t.Helper()
	c.Write(codec.AppendPingreq(nil))
	var got []*codec.Publish
	for {
		pk := c.Next()
		switch pk.Type() {
		case codec.PINGRESP:
			return got
		case codec.PUBLISH:
			p := c.DecodePublish(pk)
			got = append(got, p)
			if ack && p.QoS == 1 {
				c.SendAck(codec.PUBACK, p.PacketID)
			}
		default:
			c.t.Fatalf("servertest: got %v while waiting for PINGRESP", pk)
		}
	}
}

// Disconnect sends DISCONNECT and waits for the broker to close.
func (c *Conn) Disconnect() {
	c.t.Helper()
	c.Write(codec.AppendDisconnect(nil, &codec.Disconnect{}, c.Version))
	c.ExpectClosed(Timeout)
}
