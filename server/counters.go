package server

import "sync/atomic"

// This file is the one place to add a counter. A rare event (a refusal, a
// drop, an expiry) is one line here and one call where it happens:
//
//  1. add a constant to event (or dropReason, or closeReason) below;
//  2. give it a name and help text in eventInfo (dropNames, closeNames);
//  3. call l.event(evX) (l.drop(dropX)) on the loop where it happens, or
//     srv.goCtr.event(evX) from a goroutine that owns no loop.
//
// It then shows in Server.Metrics, /metrics (cp7_<name>_total), the stats
// API and the dashboard. Per-message figures (messages and bytes by QoS)
// are counted per turn in loop.count and flushed by endTurn instead.
//
// Counters live per loop (loopCounters): only the owner loop adds to its
// own, so the cache line stays on its core and no atomic is shared between
// loops on the publish path. Metrics sums every loop's counters when asked.

// event is a counted occurrence with no other dimension.
type event uint8

const (
	evAuthFailed event = iota
	evAuthBusy
	evConnectTimeout
	evKeepAliveTimeout
	evProtocolError
	evWillSent
	evSessionExpired
	evDeniedPublish
	evDeniedSubscribe
	evDeniedReceive
	evRedelivered
	evAcked
	evPacketsIn
	evRefusedStore
	numEvents
)

// eventInfo names each event: the Prometheus name is cp7_<name>_total.
var eventInfo = [numEvents]struct{ name, help string }{
	evAuthFailed:       {"auth_failures", "CONNECT or AUTH exchanges refused by authentication."},
	evAuthBusy:         {"auth_busy", "CONNECTs refused because the authentication queue was full."},
	evConnectTimeout:   {"connect_timeouts", "Connections closed for sending no CONNECT in time."},
	evKeepAliveTimeout: {"keepalive_timeouts", "Connections closed for silence past 1.5 keepalives."},
	evProtocolError:    {"protocol_errors", "Connections closed for a protocol error or malformed packet."},
	evWillSent:         {"wills_published", "Will messages published."},
	evSessionExpired:   {"sessions_expired", "Offline sessions removed when their expiry interval passed."},
	evDeniedPublish:    {"publish_denied", "PUBLISH refused by the ACL."},
	evDeniedSubscribe:  {"subscribe_denied", "Subscriptions refused by the ACL."},
	evDeniedReceive:    {"receive_denied", "Deliveries (live, retained, queued) the subscriber's ACL may not read."},
	evRedelivered:      {"shared_redelivered", "Shared-subscription messages handed to another group member after a session ended."},
	evAcked:            {"deliveries_acknowledged", "QoS 1/2 deliveries whose flow completed (PUBACK or PUBCOMP)."},
	evPacketsIn:        {"packets_received", "MQTT control packets received after CONNECT."},
	evRefusedStore:     {"store_refused", "QoS 1/2 publishes and persistent sessions refused because the durable store could not take them (disk nearly full, store error)."},
}

// dropReason says why a message was dropped. Every place that drops a
// message counts it with one of these.
type dropReason uint8

const (
	dropOffline   dropReason = iota // QoS 0 to an offline session
	dropSlow                        // QoS 0 to a connection over -max-outbound-bytes
	dropQueueFull                   // oldest queued message dropped for a new one (or -max-queued 0)
	dropExpired                     // message expiry passed while queued
	dropTooLarge                    // above the client's Maximum Packet Size
	dropBacklog                     // QoS 0 hand-over shed: the target loop was MaxLoopBacklog behind
	dropLoopGone                    // a task for a session whose loop ended
	dropBus                         // a malformed message from another node (cluster bus)
	numDropReasons
)

var dropNames = [numDropReasons]string{"offline", "slow_consumer", "queue_full", "expired", "too_large", "loop_backlog", "loop_gone", "bus_malformed"}

// closeReason says why a connection ended; at most one per connection,
// the first that applied.
type closeReason uint8

const (
	closeUnknown        closeReason = iota // not recorded: mapped in closed()
	closeClient                            // DISCONNECT from the client
	closeLost                              // the network connection ended without DISCONNECT
	closeProtocol                          // protocol error or malformed packet
	closeKeepAlive                         // keepalive timeout
	closeConnectTimeout                    // no CONNECT in time
	closeTakenOver                         // another connection took the client id
	closeKicked                            // administrative action (admin API)
	closeSlow                              // slow consumer
	closeShutdown                          // the server is shutting down
	closeRefused                           // CONNECT refused (CONNACK with an error)
	numCloseReasons
)

var closeNames = [numCloseReasons]string{"unknown", "client_disconnect", "connection_lost", "protocol_error",
	"keepalive_timeout", "connect_timeout", "taken_over", "kicked", "slow_consumer", "server_shutdown", "connect_refused"}

// Listeners and protocol versions, for the connection gauges.
const (
	lstTCP uint8 = iota
	lstTLS
	lstWS
	lstWSS
	lstOther
	numListeners
)

var listenerNames = [numListeners]string{"tcp", "tls", "ws", "wss", "other"}

// versionIndex maps 3 (3.1), 4 (3.1.1), 5 to 0..2.
func versionIndex(v byte) int {
	switch v {
	case 3:
		return 0
	case 5:
		return 2
	}
	return 1
}

var versionNames = [3]string{"3.1", "3.1.1", "5.0"}

// loopCounters are one loop's counters. Only the owner adds to them; a
// scrape loads them from any goroutine. Gauges (open, connected, inflight,
// queued) may be negative on one loop when sessions move between loops
// (added on one, removed on another); their sum is right.
type loopCounters struct {
	_         [64]byte // keep other data off this cache line
	open      atomic.Int64
	connected [numListeners][3]atomic.Int64
	connects  atomic.Uint64 // CONNACK 0x00 sent
	closes    [numCloseReasons]atomic.Uint64
	events    [numEvents]atomic.Uint64
	dropped   [numDropReasons]atomic.Uint64
	inflight  atomic.Int64
	queued    atomic.Int64
	msgsIn    [3]atomic.Uint64 // by QoS
	msgsOut   [3]atomic.Uint64
	bytesIn   [3]atomic.Uint64 // PUBLISH packet bytes, by QoS
	bytesOut  [3]atomic.Uint64
	netIn     atomic.Uint64 // every byte read
	netOut    atomic.Uint64 // every byte written
	_         [64]byte
}

func (k *loopCounters) event(e event)     { k.events[e].Add(1) }
func (k *loopCounters) drop(r dropReason) { k.dropped[r].Add(1) }

// turnCounts are the per-message figures of one turn, owner only, plain
// integers: endTurn adds them to the loop's counters once per turn.
type turnCounts struct {
	packetsIn, acked, netIn, netOut uint64
	deniedReceive                   uint64
	msgsIn, msgsOut                 [3]uint64
	bytesIn, bytesOut               [3]uint64
}

// event counts e on the loop's counters.
func (l *loop) event(e event) { l.ctr.events[e].Add(1) }

// drop counts a dropped message.
func (l *loop) drop(r dropReason) { l.ctr.dropped[r].Add(1) }

// flushCounts adds this turn's counts to the loop's counters.
func (l *loop) flushCounts() {
	t := &l.count
	if t.netIn|t.netOut|t.packetsIn|t.msgsOut[0]|t.msgsOut[1]|t.msgsOut[2]|t.deniedReceive == 0 {
		return
	}
	k := l.ctr
	if t.packetsIn != 0 {
		k.events[evPacketsIn].Add(t.packetsIn)
	}
	if t.acked != 0 {
		k.events[evAcked].Add(t.acked)
	}
	if t.deniedReceive != 0 {
		k.events[evDeniedReceive].Add(t.deniedReceive)
	}
	if t.netIn != 0 {
		k.netIn.Add(t.netIn)
	}
	if t.netOut != 0 {
		k.netOut.Add(t.netOut)
	}
	for q := range 3 {
		if t.msgsIn[q] != 0 {
			k.msgsIn[q].Add(t.msgsIn[q])
			k.bytesIn[q].Add(t.bytesIn[q])
		}
		if t.msgsOut[q] != 0 {
			k.msgsOut[q].Add(t.msgsOut[q])
			k.bytesOut[q].Add(t.bytesOut[q])
		}
	}
	*t = turnCounts{}
}

// addCounters registers a loop's counters for Metrics to sum.
func (srv *Server) addCounters(k *loopCounters) {
	srv.ctrMu.Lock()
	srv.ctrs = append(srv.ctrs, k)
	srv.ctrMu.Unlock()
}
