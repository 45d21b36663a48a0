package server_test

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/proxyproto"
	"github.com/cp7/cp7/server/servertest"
)

// TestProxyProtocolOnTCP drives the gnet listener with PROXY headers from a
// trusted peer: v1 and v2 (also split across writes) give the broker the
// client's own address, and a trusted peer that sends MQTT without the
// header is refused.
func TestProxyProtocolOnTCP(t *testing.T) {
	trusted, err := proxyproto.ParseTrusted("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	srv, log := servertest.StartLogged(t, func(c *server.Config) {
		c.ProxyProtocol = true
		c.ProxyTrusted = trusted
	})
	connect := func(id string) []byte {
		return codec.AppendConnect(nil, servertest.NewConnect(id, true, 30))
	}

	t.Run("v1", func(t *testing.T) {
		c := servertest.Dial(t, srv.Addr())
		c.Write(append([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 40001 1883\r\n"), connect("proxy-v1")...))
		c.ExpectConnack()
		log.WaitFor(t, servertest.Timeout, "client_id=proxy-v1", "remote=203.0.113.7:40001")
	})
	t.Run("v2 split across writes", func(t *testing.T) {
		hdr := []byte("\r\n\r\n\x00\r\nQUIT\n")
		hdr = append(hdr, 0x21, 0x11) // v2 PROXY, TCP over IPv4
		hdr = binary.BigEndian.AppendUint16(hdr, 12)
		hdr = append(hdr, net.IPv4(198, 51, 100, 9).To4()...)
		hdr = append(hdr, net.IPv4(10, 0, 0, 1).To4()...)
		hdr = binary.BigEndian.AppendUint16(hdr, 40002)
		hdr = binary.BigEndian.AppendUint16(hdr, 1883)
		all := append(hdr, connect("proxy-v2")...)
		c := servertest.Dial(t, srv.Addr())
		c.Write(all[:7]) // half a signature: the broker must wait for more
		c.Write(all[7:20])
		c.Write(all[20:])
		c.ExpectConnack()
		log.WaitFor(t, servertest.Timeout, "client_id=proxy-v2", "remote=198.51.100.9:40002")
	})
	t.Run("trusted peer without header", func(t *testing.T) {
		c := servertest.Dial(t, srv.Addr())
		c.Write(connect("no-header"))
		if !c.Closed(5 * time.Second) {
			t.Fatal("a trusted peer that sent MQTT without a PROXY header was not closed")
		}
		log.WaitFor(t, servertest.Timeout, "PROXY protocol header expected")
	})
}
