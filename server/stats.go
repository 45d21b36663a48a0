package server

// Stats is a snapshot of the main counters, kept for callers that predate
// Metrics (tests, tools). Metrics has every figure.
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
	Dropped           uint64 // tasks for sessions whose loop was gone
	DroppedOffline    uint64 // QoS 0 to offline sessions
	DroppedSlow       uint64 // QoS 0 to connections over the outbound limit
	DroppedQueueFull  uint64 // oldest queued message dropped for a new one
	DroppedExpired    uint64 // message expiry passed while queued
	DroppedTooLarge   uint64 // above the client's Maximum Packet Size
	DroppedBacklog    uint64 // QoS 0 hand-overs shed because the target loop was MaxLoopBacklog behind
	DroppedBus        uint64 // malformed messages from other nodes
	RefusedStore      uint64 // durable work refused: the store could not take it (disk full, store error)
}

// Stats returns the current counters (summed over the loops, like Metrics).
func (srv *Server) Stats() Stats {
	m := srv.Metrics()
	var disc uint64
	for _, n := range m.Disconnects {
		disc += n
	}
	ev := func(e event) uint64 { return m.Events[eventInfo[e].name] }
	dr := func(r dropReason) uint64 { return m.Dropped[dropNames[r]] }
	return Stats{
		Connections:       m.ConnectionsOpen,
		Sessions:          m.Sessions,
		Retained:          m.Retained,
		Subscriptions:     m.Subscriptions,
		Connects:          m.Connects,
		ConnectsRefused:   m.Disconnects[closeNames[closeRefused]],
		Disconnects:       disc,
		AuthFailed:        ev(evAuthFailed),
		AuthBusy:          ev(evAuthBusy),
		AuthPending:       m.AuthPending,
		ConnectTimeouts:   ev(evConnectTimeout),
		KeepAliveTimeouts: ev(evKeepAliveTimeout),
		ProtocolErrors:    ev(evProtocolError),
		PacketsIn:         ev(evPacketsIn),
		MessagesReceived:  m.MessagesReceived(),
		Acked:             ev(evAcked),
		WillsSent:         ev(evWillSent),
		SessionsExpired:   ev(evSessionExpired),
		DeniedPublish:     ev(evDeniedPublish),
		DeniedSubscribe:   ev(evDeniedSubscribe),
		DeniedReceive:     ev(evDeniedReceive),
		Dropped:           dr(dropLoopGone),
		DroppedOffline:    dr(dropOffline),
		DroppedSlow:       dr(dropSlow),
		DroppedQueueFull:  dr(dropQueueFull),
		DroppedExpired:    dr(dropExpired),
		DroppedTooLarge:   dr(dropTooLarge),
		DroppedBacklog:    dr(dropBacklog),
		DroppedBus:        dr(dropBus),
		RefusedStore:      ev(evRefusedStore),
	}
}
