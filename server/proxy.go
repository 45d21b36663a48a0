package server

import (
	"errors"
	"net"

	"github.com/cp7/cp7/server/proxyproto"
)

// proxyAllowed reports whether the peer may speak PROXY protocol to us.
func (srv *Server) proxyAllowed(a net.Addr) bool {
	return srv.cfg.ProxyTrusted != nil && srv.cfg.ProxyTrusted.Contains(a)
}

// readProxyHeader consumes the PROXY v1/v2 header at the start of a gnet
// connection's input. It returns 0 while the header is incomplete. The
// client address reported from then on (logs, auth) is the one the header
// carried; a LOCAL header (the proxy's own health check) keeps the peer's.
func (l *loop) readProxyHeader(c *client, b []byte) (int, error) {
	h, n, err := proxyproto.Parse(b)
	switch {
	case errors.Is(err, proxyproto.ErrIncomplete):
		return 0, nil
	case errors.Is(err, proxyproto.ErrNotProxy):
		return 0, protoErr(0x82, "PROXY protocol header expected from a trusted proxy, got other bytes (turn -proxy-protocol off or send-proxy on the load balancer)")
	case err != nil:
		return 0, protoErr(0x81, err.Error())
	}
	c.x.proxyPending = false
	if h.Source != nil {
		c.x.remote = h.Source
	}
	return n, nil
}
