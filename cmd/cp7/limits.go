package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/cp7/cp7/server"
)

// limitFlags bound what clients can make the broker hold (issue 10): each
// limit is counted in the server's Stats and logged with the client id when
// hit.
type limitFlags struct {
	maxTopicAlias    uint
	maxInflightIn    uint
	maxSessionExpiry time.Duration
	cfg              server.Config // the limits' values, copied into o.cfg by apply
}

func init() { addGroup(func() flagGroup { return &limitFlags{} }) }

func (f *limitFlags) register(fs *flag.FlagSet) {
	d := server.DefaultConfig()
	f.maxTopicAlias = uint(d.TopicAliasMaximum)
	f.maxInflightIn = uint(d.ReceiveMaximum)
	fs.IntVar(&f.cfg.MaxConnectPacket, "max-connect-packet", d.MaxConnectPacket, "largest packet in `BYTES` accepted before CONNACK (CONNECT, AUTH): an unauthenticated peer cannot make the broker hold more")
	fs.Int64Var(&f.cfg.MaxInboundBytes, "max-inbound-bytes", d.MaxInboundBytes, "`BYTES` of incomplete packets held across all connections; past it connections are not read until others' packets complete")
	fs.IntVar(&f.cfg.MaxTopicLevels, "max-topic-levels", d.MaxTopicLevels, "most levels (`N`) in a topic or filter on publish, subscribe and wills; 0 = no limit")
	fs.IntVar(&f.cfg.MaxTopicLength, "max-topic-length", d.MaxTopicLength, "longest topic or filter in `BYTES` on publish, subscribe and wills (at most 65535)")
	fs.IntVar(&f.cfg.MaxSubscriptions, "max-subscriptions", d.MaxSubscriptions, "subscriptions per client (`N`); past it SUBSCRIBE answers quota exceeded; 0 = no limit")
	fs.IntVar(&f.cfg.MaxQueuedBytes, "max-queued-bytes", d.MaxQueuedBytes, "topic and payload `BYTES` queued per session besides -max-queued; overflow drops the oldest and counts it; 0 = no limit")
	fs.DurationVar(&f.maxSessionExpiry, "max-session-expiry", 0, "longest `DURATION` an offline session is kept, for MQTT 5 clients (caps their Session Expiry Interval) and 3.1.1 persistent sessions alike (like Mosquitto's persistent_client_expiration); 0 (the default) = no maximum")
	fs.DurationVar(&f.cfg.TCPKeepAlive, "tcp-keepalive", d.TCPKeepAlive, "TCP keepalive idle `DURATION` on accepted TCP sockets, so vanished peers are found even with MQTT keepalive 0; 0 = off")
	fs.IntVar(&f.cfg.MaxConnections, "max-connections", d.MaxConnections, "open connections in total (`N`); more are closed at accept; 0 = no limit")
	fs.IntVar(&f.cfg.MaxListenerConnections, "max-listener-connections", d.MaxListenerConnections, "open connections per listening address (`N`); 0 (the default) = only -max-connections")
	fs.Float64Var(&f.cfg.ConnectRate, "connect-rate", d.ConnectRate, "connections per second (`RATE`) one remote address may open, in bursts of -connect-burst; 0 = off (the default: a limit breaks load tests from one host)")
	fs.IntVar(&f.cfg.ConnectBurst, "connect-burst", d.ConnectBurst, "burst (`N`) of -connect-rate")
	fs.UintVar(&f.maxTopicAlias, "max-topic-alias", f.maxTopicAlias, "topic aliases (`N`) an MQTT 5 client may set (Topic Alias Maximum in CONNACK, each a copy of a topic); 0 = none")
	fs.UintVar(&f.maxInflightIn, "max-inflight-in", f.maxInflightIn, "unacknowledged inbound QoS 2 publishes per session (`N`, 1-65535): MQTT 5 clients are told it as Receive Maximum and one exceeding it gets DISCONNECT 0x93; a 3.1.1 client exceeding it is disconnected")
	fs.IntVar(&f.cfg.MaxRetained, "max-retained", d.MaxRetained, "retained messages in total (`N`); a new retained topic past it is delivered but not stored; 0 = no limit")
	fs.Int64Var(&f.cfg.MaxRetainedBytes, "max-retained-bytes", d.MaxRetainedBytes, "topic and payload `BYTES` of retained messages in total; 0 = no limit")
	fs.Float64Var(&f.cfg.PublishRate, "publish-rate", d.PublishRate, "PUBLISH packets per second (`RATE`) per client; excess is delayed by not reading the client, never dropped; 0 (the default) = off")
	fs.Float64Var(&f.cfg.PublishBytesRate, "publish-bytes-rate", d.PublishBytesRate, "payload `BYTES` per second per client; excess is delayed by not reading the client; 0 (the default) = off")
}

func (f *limitFlags) apply(o *options) error {
	c := &o.cfg
	c.MaxConnectPacket, c.MaxInboundBytes = f.cfg.MaxConnectPacket, f.cfg.MaxInboundBytes
	c.MaxTopicLevels, c.MaxTopicLength = f.cfg.MaxTopicLevels, f.cfg.MaxTopicLength
	c.MaxSubscriptions, c.MaxQueuedBytes = f.cfg.MaxSubscriptions, f.cfg.MaxQueuedBytes
	c.TCPKeepAlive = f.cfg.TCPKeepAlive
	c.MaxConnections, c.MaxListenerConnections = f.cfg.MaxConnections, f.cfg.MaxListenerConnections
	c.ConnectRate, c.ConnectBurst = f.cfg.ConnectRate, f.cfg.ConnectBurst
	c.MaxRetained, c.MaxRetainedBytes = f.cfg.MaxRetained, f.cfg.MaxRetainedBytes
	c.PublishRate, c.PublishBytesRate = f.cfg.PublishRate, f.cfg.PublishBytesRate
	if f.maxTopicAlias > 65535 {
		return fmt.Errorf("-max-topic-alias %d is above 65535, the most MQTT can express", f.maxTopicAlias)
	}
	c.TopicAliasMaximum = uint16(f.maxTopicAlias)
	if f.maxInflightIn < 1 || f.maxInflightIn > 65535 {
		return fmt.Errorf("-max-inflight-in %d: use 1 to 65535", f.maxInflightIn)
	}
	c.ReceiveMaximum = uint16(f.maxInflightIn)
	if f.maxSessionExpiry < 0 {
		return fmt.Errorf("-max-session-expiry %v is negative: use 0 (no maximum) or a duration such as 720h", f.maxSessionExpiry)
	}
	secs := (f.maxSessionExpiry + time.Second - 1) / time.Second
	if secs >= 0xFFFFFFFF {
		secs = 0 // as long as MQTT can express: no maximum
	}
	c.MaxSessionExpiry = uint32(secs)
	return nil
}
