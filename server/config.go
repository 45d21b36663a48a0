package server

import (
	"fmt"
	"time"

	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server/proxyproto"
	"github.com/cp7/cp7/server/store"
)

// Config holds the broker's settings. The zero value is not valid; start
// from DefaultConfig and change what you need.
type Config struct {
	// Listen is the address of the plain TCP listener served by gnet, e.g.
	// "0.0.0.0:1883". Empty turns it off.
	Listen string
	// EventLoops is the number of gnet event loops; 0 means one per CPU.
	EventLoops int

	// MaxPacketSize is the largest inbound packet accepted, in bytes
	// (fixed header included). Larger packets close the connection (v5: after
	// DISCONNECT 0x95).
	MaxPacketSize int
	// MaxKeepAlive caps the keepalive a client may ask for, in seconds; 0 means
	// no maximum. A 3.1/3.1.1 client asking for more (or for 0, which means
	// "never") is refused with CONNACK 0x02; a v5 client is told the maximum in
	// Server Keep Alive.
	MaxKeepAlive uint16
	// MaxInflight bounds unacknowledged QoS 1/2 deliveries per session.
	MaxInflight int
	// MaxQueued bounds messages queued per session (offline, or behind a full
	// in-flight window). Overflow drops the oldest and counts it.
	MaxQueued int
	// MaxOutboundBytes bounds the bytes waiting to be written to one
	// connection. Past it QoS 0 deliveries are dropped (and counted); past
	// twice it the slow consumer is disconnected.
	MaxOutboundBytes int
	// MaxLoopBacklog bounds the deliveries waiting for one event loop (handed
	// over by other loops and not yet run). Past it, QoS 0 hand-overs to
	// that loop are dropped and counted.
	MaxLoopBacklog int
	// ConnectTimeout closes a connection that has not sent CONNECT in time.
	ConnectTimeout time.Duration
	// MaxClientIDLen bounds client identifiers (MQTT 3.1 allowed 23; 3.1.1
	// allows servers to accept more [MQTT-3.1.3-5]).
	MaxClientIDLen int
	// MaxQoS is the highest QoS granted to subscriptions and accepted on
	// publish (v5 Maximum QoS).
	MaxQoS byte
	// RetainAvailable turns retained messages on.
	RetainAvailable bool
	// ReceiveMaximum is how many unacknowledged QoS 1/2 publishes a v5 client
	// may send us (sent in CONNACK); exceeding it is DISCONNECT 0x93.
	ReceiveMaximum uint16
	// TopicAliasMaximum is the number of inbound topic aliases a v5 client may
	// use (sent in CONNACK); 0 disables them.
	TopicAliasMaximum uint16
	// MaxSessionExpiry caps the session expiry interval a v5 client may ask
	// for, in seconds; 0 means no cap.
	MaxSessionExpiry uint32
	// SharedStrategy picks the member of a shared subscription group.
	SharedStrategy router.SharedStrategy
	// RouterShards is the number of subscription table shards.
	RouterShards int
	// SysInterval is how often the $SYS/broker/... topics are published
	// (retained); 0 (the library's default) turns them off. cp7 runs with
	// 10s (-sys-interval).
	SysInterval time.Duration

	// ProxyProtocol, when set, makes the TCP listener expect a PROXY protocol
	// v1/v2 header from peers in ProxyTrusted before the MQTT bytes.
	ProxyProtocol bool
	// ProxyTrusted lists the networks that may send a PROXY header; nil with
	// ProxyProtocol set trusts nobody.
	ProxyTrusted *proxyproto.Trusted

	// CNAsUsername uses a verified TLS client certificate's CommonName as
	// the MQTT username (TLS and WSS listeners with client CAs).
	CNAsUsername bool

	// Limits below bound what one client, or all of them together, can make
	// the broker hold; each is counted in Stats when hit (see limits.go).

	// MaxConnectPacket is the largest packet accepted before CONNACK (the
	// CONNECT and v5 AUTH exchange), so an unauthenticated peer cannot make
	// the broker buffer MaxPacketSize bytes. Validate lowers it to
	// MaxPacketSize.
	MaxConnectPacket int
	// MaxInboundBytes bounds the bytes of incomplete packets held across all
	// connections; a connection that would pass it stops being read (its
	// peer's TCP window closes) until others' packets complete. Validate
	// raises it to one MaxPacketSize.
	MaxInboundBytes int64
	// MaxTopicLevels and MaxTopicLength bound topic names and filters on
	// PUBLISH, SUBSCRIBE and wills (0: no bound beyond the protocol's).
	MaxTopicLevels int
	MaxTopicLength int
	// MaxSubscriptions bounds the subscriptions one session may hold; past
	// it SUBSCRIBE answers Quota exceeded (v5 0x97, 3.1.1 0x80).
	MaxSubscriptions int
	// MaxQueuedBytes bounds the bytes (topic + payload) queued per session
	// beside MaxQueued's count; overflow drops the oldest and counts it.
	MaxQueuedBytes int
	// TCPKeepAlive sets SO_KEEPALIVE with this idle time on accepted TCP
	// sockets, so peers that vanished without a FIN are found even with MQTT
	// keepalive 0; 0 turns it off.
	TCPKeepAlive time.Duration
	// MaxConnections bounds open connections in total (0: no bound);
	// MaxListenerConnections bounds them per listening address.
	MaxConnections         int
	MaxListenerConnections int
	// ConnectRate is the CONNECTs per second one remote address may open
	// (0: no limit), with bursts of ConnectBurst.
	ConnectRate  float64
	ConnectBurst int
	// MaxRetained and MaxRetainedBytes bound retained messages in total,
	// by count and by topic + payload bytes; a new retained topic past them
	// is not stored (the message is still delivered) and counted.
	MaxRetained      int
	MaxRetainedBytes int64
	// PublishRate and PublishBytesRate bound each client's PUBLISHes per
	// second and payload bytes per second (0: no limit). Excess is delayed by
	// not reading the client's socket, never dropped.
	PublishRate      float64
	PublishBytesRate float64

	// Auth authenticates CONNECT (nil allows everyone). ACL authorizes
	// publish, subscribe and every delivery (nil allows everything; see
	// Authorizer, server/acl for the rule file, AllOf to chain several).
	Auth Authenticator
	ACL  Authorizer
	// AuthWorkers is the number of goroutines that run Auth's slow checks
	// off the event loops; 0 means max(8, 4 x GOMAXPROCS).
	AuthWorkers int
	// AuthQueue bounds the CONNECTs waiting for an auth worker; past it a
	// CONNECT is refused with Server busy (v5 0x89, 3.1.1 0x03) and
	// counted. 0 means 64 per worker.
	AuthQueue int
	// EnhancedAuth are the MQTT 5 enhanced authentication methods offered
	// (AUTH packet exchange), e.g. NewSCRAM.
	EnhancedAuth []EnhancedAuthenticator

	// Store, when set, makes persistent sessions and retained messages
	// durable (server/store; cp7 opens it from -data-dir). nil keeps
	// everything in memory, as DefaultConfig does: the cp7 binary turns the
	// store on by default, the server package does not, so tests and
	// embedders get no files unless they ask.
	Store *store.Store
}

// DefaultConfig returns the settings `cp7` runs with when given no flags.
func DefaultConfig() Config {
	return Config{
		Listen:            "0.0.0.0:1883",
		MaxPacketSize:     1 << 20,
		MaxInflight:       32,
		MaxQueued:         1000,
		MaxOutboundBytes:  4 << 20,
		MaxLoopBacklog:    1 << 20,
		ConnectTimeout:    10 * time.Second,
		MaxClientIDLen:    65535,
		MaxQoS:            2,
		RetainAvailable:   true,
		ReceiveMaximum:    1024,
		TopicAliasMaximum: 10,
		SharedStrategy:    router.SharedRoundRobin,
		RouterShards:      64,

		MaxConnectPacket: 64 << 10,
		MaxInboundBytes:  256 << 20,
		MaxTopicLevels:   128,
		MaxTopicLength:   65535,
		MaxSubscriptions: 1000,
		MaxQueuedBytes:   16 << 20,
		TCPKeepAlive:     60 * time.Second,
		MaxConnections:   1_000_000,
		ConnectBurst:     10,
		MaxRetained:      1_000_000,
		MaxRetainedBytes: 1 << 30,
	}
}

// Validate reports the first setting that cannot work, saying what to do.
func (c *Config) Validate() error {
	switch {
	case c.MaxPacketSize < 64 || c.MaxPacketSize > 268435460:
		return fmt.Errorf("server: max packet size %d is out of range: use 64 to 268435460 bytes", c.MaxPacketSize)
	case c.MaxInflight < 1 || c.MaxInflight > 65535:
		return fmt.Errorf("server: max inflight %d is out of range: use 1 to 65535", c.MaxInflight)
	case c.MaxQueued < 0:
		return fmt.Errorf("server: max queued %d is negative: use 0 (no queue) or more", c.MaxQueued)
	case c.MaxOutboundBytes < 1024:
		return fmt.Errorf("server: max outbound bytes %d is too small: use at least 1024", c.MaxOutboundBytes)
	case c.MaxLoopBacklog < 1:
		return fmt.Errorf("server: max loop backlog %d must be at least 1", c.MaxLoopBacklog)
	case c.ConnectTimeout <= 0:
		return fmt.Errorf("server: connect timeout %v must be positive", c.ConnectTimeout)
	case c.MaxQoS > 2:
		return fmt.Errorf("server: max QoS %d is not a QoS: use 0, 1 or 2", c.MaxQoS)
	case c.ReceiveMaximum == 0:
		return fmt.Errorf("server: receive maximum 0 is not allowed [MQTT-3.2.2.3.3]: use 1 to 65535")
	case c.MaxConnectPacket < 64:
		return fmt.Errorf("server: max connect packet %d is too small: use at least 64 bytes", c.MaxConnectPacket)
	case c.MaxInboundBytes < 1024:
		return fmt.Errorf("server: max inbound bytes %d is too small: use at least 1024 (it is raised to one max packet size anyway)", c.MaxInboundBytes)
	case c.MaxTopicLevels < 0 || c.MaxTopicLength < 0 || c.MaxTopicLength > 65535:
		return fmt.Errorf("server: max topic levels %d / length %d out of range: use 0 (no bound) or more, length at most 65535", c.MaxTopicLevels, c.MaxTopicLength)
	case c.MaxSubscriptions < 0 || c.MaxQueuedBytes < 0 || c.MaxConnections < 0 || c.MaxListenerConnections < 0 ||
		c.MaxRetained < 0 || c.MaxRetainedBytes < 0:
		return fmt.Errorf("server: a max-* limit is negative: use 0 (no bound) or more")
	case c.TCPKeepAlive < 0:
		return fmt.Errorf("server: TCP keepalive %v is negative: use 0 (off) or a duration", c.TCPKeepAlive)
	case c.ConnectRate < 0 || c.PublishRate < 0 || c.PublishBytesRate < 0:
		return fmt.Errorf("server: a rate limit is negative: use 0 (off) or more")
	case c.ConnectRate > 0 && c.ConnectBurst < 1:
		return fmt.Errorf("server: connect burst %d must be at least 1 with a connect rate", c.ConnectBurst)
	case c.SysInterval < 0:
		return fmt.Errorf("server: $SYS interval %v is negative: use 0 (off) or a duration such as 10s", c.SysInterval)
	case c.AuthWorkers < 0 || c.AuthQueue < 0:
		return fmt.Errorf("server: auth workers %d and auth queue %d must not be negative: use 0 for the defaults", c.AuthWorkers, c.AuthQueue)
	case c.MaxClientIDLen < 23:
		return fmt.Errorf("server: max client id length %d is below the 23 every server must accept [MQTT-3.1.3-5]", c.MaxClientIDLen)
	}
	// Caps, not requirements: a smaller max packet size wins, and one
	// packet of the largest size must always fit in the inbound budget.
	c.MaxConnectPacket = min(c.MaxConnectPacket, c.MaxPacketSize)
	c.MaxInboundBytes = max(c.MaxInboundBytes, int64(c.MaxPacketSize))
	if c.RouterShards <= 0 {
		c.RouterShards = 64
	}
	return nil
}
