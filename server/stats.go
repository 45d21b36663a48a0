package server

import "sync/atomic"

// stats are the broker's counters, updated with atomics from every loop.
// Every limit that drops or refuses something counts it here.
type stats struct {
	connections       atomic.Int64
	connects          atomic.Uint64
	connectsRefused   atomic.Uint64
	disconnects       atomic.Uint64
	authFailed        atomic.Uint64
	authBusy          atomic.Uint64
	authPending       atomic.Int64
	connectTimeouts   atomic.Uint64
	keepAliveTimeouts atomic.Uint64
	protocolErrors    atomic.Uint64
	packetsIn         atomic.Uint64
	received          atomic.Uint64
	acked             atomic.Uint64
	redelivered       atomic.Uint64
	willsSent         atomic.Uint64
	sessionsExpired   atomic.Uint64
	deniedPublish     atomic.Uint64
	deniedSubscribe   atomic.Uint64
	deniedReceive     atomic.Uint64
	dropped           atomic.Uint64
	droppedOffline    atomic.Uint64
	droppedSlow       atomic.Uint64
	droppedQueueFull  atomic.Uint64
	droppedExpired    atomic.Uint64
	refusedStore      atomic.Uint64
	droppedTooLarge   atomic.Uint64
	droppedBacklog    atomic.Uint64
	droppedBus        atomic.Uint64
}

// Stats is a snapshot of the counters.
type Stats struct {
	Connections       int64
	Sessions          int64
	Retained          int
	Subscriptions     int
	Connects          uint64
	ConnectsRefused   uint64
	Disconnects       uint64
	AuthFailed        uint64
	AuthBusy          uint64 // CONNECTs refused because the auth queue was full
	AuthPending       int64  // CONNECTs waiting for an auth worker's answer now
	ConnectTimeouts   uint64
	KeepAliveTimeouts uint64
	ProtocolErrors    uint64
	PacketsIn         uint64
	MessagesReceived  uint64
	Acked             uint64
	WillsSent         uint64
	SessionsExpired   uint64
	DeniedPublish     uint64
	DeniedSubscribe   uint64
	DeniedReceive     uint64 // deliveries (live, retained, queued) the subscriber may not read
	Dropped           uint64 // hand-overs to loops that were gone
	DroppedOffline    uint64 // QoS 0 to offline sessions
	DroppedSlow       uint64 // QoS 0 to connections over the outbound limit
	DroppedQueueFull  uint64 // oldest queued message dropped for a new one
	DroppedExpired    uint64 // message expiry passed while queued
	RefusedStore      uint64 // durable work refused: the store could not take it (disk full, store error)
	DroppedTooLarge   uint64 // above the client's Maximum Packet Size
	DroppedBacklog    uint64 // QoS 0 hand-overs shed because the target loop was MaxLoopBacklog behind
	DroppedBus        uint64 // malformed messages from other nodes
}

// Stats returns the current counters.
func (srv *Server) Stats() Stats {
	s := &srv.stats
	return Stats{
		Connections:       s.connections.Load(),
		Sessions:          srv.sessions.count.Load(),
		Retained:          srv.retained.Count(),
		Subscriptions:     srv.router.Count(),
		Connects:          s.connects.Load(),
		ConnectsRefused:   s.connectsRefused.Load(),
		Disconnects:       s.disconnects.Load(),
		AuthFailed:        s.authFailed.Load(),
		AuthBusy:          s.authBusy.Load(),
		AuthPending:       s.authPending.Load(),
		ConnectTimeouts:   s.connectTimeouts.Load(),
		KeepAliveTimeouts: s.keepAliveTimeouts.Load(),
		ProtocolErrors:    s.protocolErrors.Load(),
		PacketsIn:         s.packetsIn.Load(),
		MessagesReceived:  s.received.Load(),
		Acked:             s.acked.Load(),
		WillsSent:         s.willsSent.Load(),
		SessionsExpired:   s.sessionsExpired.Load(),
		DeniedPublish:     s.deniedPublish.Load(),
		DeniedSubscribe:   s.deniedSubscribe.Load(),
		DeniedReceive:     s.deniedReceive.Load(),
		Dropped:           s.dropped.Load(),
		DroppedOffline:    s.droppedOffline.Load(),
		DroppedSlow:       s.droppedSlow.Load(),
		DroppedQueueFull:  s.droppedQueueFull.Load(),
		DroppedExpired:    s.droppedExpired.Load(),
		RefusedStore:      s.refusedStore.Load(),
		DroppedTooLarge:   s.droppedTooLarge.Load(),
		DroppedBacklog:    s.droppedBacklog.Load(),
		DroppedBus:        s.droppedBus.Load(),
	}
}
