package server

import (
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitKind names one limit for its counter and its log line.
type limitKind uint8

const (
	limConnectPacket limitKind = iota // packet before CONNACK above MaxConnectPacket
	limInboundBytes                   // reading paused: MaxInboundBytes of incomplete packets held
	limTopic                          // topic or filter above MaxTopicLevels / MaxTopicLength
	limSubscriptions                  // SUBSCRIBE past MaxSubscriptions
	limQueuedBytes                    // queued message dropped for MaxQueuedBytes
	limConnections                    // connection refused: MaxConnections / MaxListenerConnections
	limConnectRate                    // connection refused: ConnectRate
	limTopicAlias                     // topic alias above the maximum
	limInflightIn                     // more unacknowledged inbound QoS 2 than ReceiveMaximum
	limRetained                       // retained message not stored: MaxRetained / MaxRetainedBytes
	limPublishRate                    // reading paused: PublishRate / PublishBytesRate
	limBacklog                        // reading paused: a QoS 1/2 target loop is MaxLoopBacklog behind
	limOutbound                       // reading paused: acks and PINGRESP past MaxOutboundBytes
	limKinds
)

var limitNames = [limKinds]string{
	"max-connect-packet", "max-inbound-bytes", "max-topic-levels/length", "max-subscriptions",
	"max-queued-bytes", "max-connections", "connect-rate", "max-topic-alias", "max-inflight-in",
	"max-retained", "publish-rate", "max-loop-backlog", "max-outbound-bytes",
}

// limitStats counts each limit when hit, and rate-limits the log line that
// reports it so that a flood of hostile clients does not flood the log: one
// line per limit per second at most, saying how many were not logged.
type limitStats struct {
	hits       [limKinds]atomic.Uint64
	lastLog    [limKinds]atomic.Int64 // Unix nanoseconds of the last line
	suppressed [limKinds]atomic.Uint64
}

// limitHit counts a limit hit by clientID (may be "") from remote and logs
// it, at most once a second per kind. Safe from any goroutine.
func (srv *Server) limitHit(k limitKind, clientID, remote string, detail string) {
	ls := &srv.limits
	ls.hits[k].Add(1)
	now := time.Now().UnixNano()
	last := ls.lastLog[k].Load()
	if now-last < int64(time.Second) || !ls.lastLog[k].CompareAndSwap(last, now) {
		ls.suppressed[k].Add(1)
		return
	}
	srv.log.Warn("limit reached", "limit", limitNames[k], "client_id", clientID, "remote", remote,
		"detail", detail, "not_logged_since_last", ls.suppressed[k].Swap(0))
}

// clientLimit is limitHit for a client of this loop (its id is "" before
// CONNECT is accepted).
func (l *loop) clientLimit(k limitKind, c *client, detail string) {
	l.srv.limitHit(k, c.clientID(), addrString(c.remoteAddr()), detail)
}

// topicWithin reports whether a topic name or filter is within the
// configured levels and length.
func (cfg *Config) topicWithin(t []byte) bool {
	if cfg.MaxTopicLength > 0 && len(t) > cfg.MaxTopicLength {
		return false
	}
	if max := cfg.MaxTopicLevels; max > 0 && len(t) >= max {
		levels := 1
		for _, ch := range t {
			if ch == '/' {
				levels++
			}
		}
		return levels <= max
	}
	return true
}

// bucket is a token bucket refilled at rate per second up to burst. Owner
// only (one loop or one goroutine), or under a lock.
type bucket struct {
	tokens float64
	at     int64 // Unix nanoseconds of the last refill; 0: never used (full)
}

func (b *bucket) refill(now int64, rate, burst float64) {
	if b.at == 0 {
		b.tokens = burst
	} else {
		b.tokens = math.Min(burst, b.tokens+float64(now-b.at)/1e9*rate)
	}
	b.at = now
}

// allow takes n tokens if the bucket has them.
func (b *bucket) allow(now int64, rate, burst, n float64) bool {
	b.refill(now, rate, burst)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// charge takes n tokens even if that leaves the bucket in debt, and reports
// whether it is in debt (the next takes must wait).
func (b *bucket) charge(now int64, rate, burst, n float64) (inDebt bool) {
	b.refill(now, rate, burst)
	b.tokens -= n
	return b.tokens < 0
}

// inDebt reports whether the bucket is still below zero at now.
func (b *bucket) inDebt(now int64, rate, burst float64) bool {
	b.refill(now, rate, burst)
	return b.tokens < 0
}

// connGate enforces MaxConnections, MaxListenerConnections and ConnectRate
// at accept time, before the broker spends anything on the connection.
type connGate struct {
	total    atomic.Int64
	mu       sync.Mutex
	listener map[string]*atomic.Int64 // by local address
	rates    map[string]*rateEntry    // by remote IP, only with ConnectRate
	swept    int64                    // Unix nanoseconds of the last sweep of rates
}

type rateEntry struct {
	b bucket
}

// admit counts a new connection on listener address local from remote
// against MaxConnections, MaxListenerConnections and ConnectRate, before the
// broker spends anything on it. Refused, it returns the limit; admitted, the
// connection's end must call unadmit. Any goroutine.
func (srv *Server) admit(local, remote net.Addr) (limitKind, bool) {
	cfg, g := &srv.cfg, &srv.gate
	if cfg.ConnectRate > 0 {
		ip := addrString(remote)
		if a, ok := remote.(*net.TCPAddr); ok {
			ip = a.IP.String()
		}
		now := time.Now().UnixNano()
		burst := float64(cfg.ConnectBurst)
		g.mu.Lock()
		if g.rates == nil {
			g.rates = make(map[string]*rateEntry)
		}
		if now-g.swept > int64(10*time.Second) {
			// Forget addresses whose bucket is full again: they cost nothing
			// to re-create, and a scan from many addresses must not grow this.
			g.swept = now
			for k, e := range g.rates {
				if e.b.refill(now, cfg.ConnectRate, burst); e.b.tokens >= burst {
					delete(g.rates, k)
				}
			}
		}
		e := g.rates[ip]
		if e == nil {
			e = &rateEntry{}
			g.rates[ip] = e
		}
		allowed := e.b.allow(now, cfg.ConnectRate, burst, 1)
		g.mu.Unlock()
		if !allowed {
			return limConnectRate, false
		}
	}
	if n := g.total.Add(1); cfg.MaxConnections > 0 && n > int64(cfg.MaxConnections) {
		g.total.Add(-1)
		return limConnections, false
	}
	if per := srv.listenerCount(local); per != nil && per.Add(1) > int64(cfg.MaxListenerConnections) {
		per.Add(-1)
		g.total.Add(-1)
		return limConnections, false
	}
	return 0, true
}

// unadmit ends what admit counted.
func (srv *Server) unadmit(local net.Addr) {
	srv.gate.total.Add(-1)
	if per := srv.listenerCount(local); per != nil {
		per.Add(-1)
	}
}

// listenerCount is the connection counter of listener address local, or
// nil without MaxListenerConnections.
func (srv *Server) listenerCount(local net.Addr) *atomic.Int64 {
	if srv.cfg.MaxListenerConnections <= 0 || local == nil {
		return nil
	}
	key := local.String()
	g := &srv.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.listener == nil {
		g.listener = make(map[string]*atomic.Int64)
	}
	per := g.listener[key]
	if per == nil {
		per = new(atomic.Int64)
		g.listener[key] = per
	}
	return per
}
