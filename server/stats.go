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
	TopicChecks       uint64 // publish/subscribe/will decisions sent to the auth workers (cache misses of a hook)
	TopicBusy         uint64 // decisions the fail policy gave because the auth queue was full
	TopicPending      int64  // packets waiting for a topic decision now
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

	// Limits hit (each also logged with the client id, at most once a
	// second per limit). "Paused" counts times a connection's input stopped
	// being read until the condition cleared; nothing is dropped for those.
	LimitConnectPacket uint64 // packet before CONNACK above MaxConnectPacket (closed)
	PausedInbound      uint64 // MaxInboundBytes of incomplete packets held
	LimitTopic         uint64 // topic or filter above MaxTopicLevels / MaxTopicLength
	LimitSubscriptions uint64 // subscriptions refused past MaxSubscriptions
	DroppedQueuedBytes uint64 // queued messages dropped for MaxQueuedBytes
	RefusedConnections uint64 // MaxConnections / MaxListenerConnections
	RefusedConnectRate uint64 // ConnectRate
	LimitTopicAlias    uint64 // topic alias above the maximum
	LimitInflightIn    uint64 // unacknowledged inbound QoS 2 above ReceiveMaximum (disconnected)
	LimitRetained      uint64 // retained messages not stored: MaxRetained / MaxRetainedBytes
	PausedPublishRate  uint64 // PublishRate / PublishBytesRate
	PausedBacklog      uint64 // QoS 1/2 publisher paused: target loop MaxLoopBacklog behind
	PausedOutbound     uint64 // acks and PINGRESP past MaxOutboundBytes
	InboundBytes       int64  // bytes reserved for incomplete packets now
	RetainedBytes      int64  // topic + payload bytes of retained messages now
	RefusedStore       uint64 // durable work refused: the store could not take it (disk full, store error)
}

// Stats returns the current counters (summed over the loops, like Metrics).
func (srv *Server) Stats() Stats {
	m := srv.coreMetrics()
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
		TopicChecks:       srv.topicStats.checks.Load(),
		TopicBusy:         srv.topicStats.busy.Load(),
		TopicPending:      srv.topicStats.pending.Load(),
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

		LimitConnectPacket: srv.limits.hits[limConnectPacket].Load(),
		PausedInbound:      srv.limits.hits[limInboundBytes].Load(),
		LimitTopic:         srv.limits.hits[limTopic].Load(),
		LimitSubscriptions: srv.limits.hits[limSubscriptions].Load(),
		DroppedQueuedBytes: srv.limits.hits[limQueuedBytes].Load(),
		RefusedConnections: srv.limits.hits[limConnections].Load(),
		RefusedConnectRate: srv.limits.hits[limConnectRate].Load(),
		LimitTopicAlias:    srv.limits.hits[limTopicAlias].Load(),
		LimitInflightIn:    srv.limits.hits[limInflightIn].Load(),
		LimitRetained:      srv.limits.hits[limRetained].Load(),
		PausedPublishRate:  srv.limits.hits[limPublishRate].Load(),
		PausedBacklog:      srv.limits.hits[limBacklog].Load(),
		PausedOutbound:     srv.limits.hits[limOutbound].Load(),
		InboundBytes:       srv.inbound.Load(),
		RetainedBytes:      srv.retainedBytes.Load(),
		RefusedStore:       ev(evRefusedStore),
	}
}
