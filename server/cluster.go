package server

import (
	"sync"
	"time"

	"github.com/cp7/cp7/router"
)

// Cluster is the seam to the other nodes of a cluster (server/cluster
// implements it over NATS). Event loops call every method, so each must
// return at once: it hands the work to the cluster's own goroutines and
// never waits on the network.
type Cluster interface {
	// Interest tells that a session of this node subscribed to filter (as
	// subscribed, "$share/g/" prefix included) when add is true, or that
	// one such subscription went. The cluster counts them and asks the bus
	// for the filter's messages while the count is above zero.
	Interest(filter string, add bool)
	// Publish takes one loop turn's messages for the other nodes: frames
	// appended by AppendBusFrame. The cluster owns batch from then on and
	// gives it back with ReleaseBusBatch when done.
	Publish(batch []byte)
	// Retain tells that this node set (msg non-nil: a bus message,
	// see AppendBusMessage) or cleared (msg nil) the retained message of
	// topic, so that every node holds it.
	Retain(topic string, msg []byte)
	// Claim asks the other nodes for client id before a CONNECT attaches
	// (see clustersession.go); done runs on a goroutine of the cluster.
	Claim(id string, clean bool, done ClaimDone)
}

// SetCluster joins srv to a cluster. Call it between New and Start. A server
// without one (a single node) pays a nil check on the publish path and
// nothing else.
func (srv *Server) SetCluster(c Cluster) { srv.cluster = c }

// busLoop is the loop that routes messages arriving from other nodes: it
// owns no session, so every delivery it makes is a hand-over to the owning
// loop, batched per loop and turn like any other.
func (srv *Server) startBusLoop() {
	g := newGoLoop()
	srv.bus = newLoop(srv, g.post)
	srv.addLoop(srv.bus)
	srv.wg.Add(1)
	go func() { defer srv.wg.Done(); g.run(srv.bus, srv.stop) }()
}

// FromBus routes messages that arrived from other nodes (each a bus message,
// see AppendBusMessage, owned by the server from now on) to this node's
// subscribers, non-shared subscriptions only: shared groups are picked
// cluster-wide, see FromBusShared. One Match per message: a session whose
// filters overlap gets one copy. Safe from any goroutine; returns at once.
func (srv *Server) FromBus(msgs [][]byte) {
	l := srv.bus
	if l == nil {
		return
	}
	l.post(func() {
		l.now = time.Now()
		for i, b := range msgs {
			msgs[i] = nil
			m, err := decodeBusMessage(b, l.now)
			if err != nil {
				srv.goCtr.drop(dropBus)
				srv.log.Warn("cluster: dropping a malformed message from the bus", "err", err)
				continue
			}
			if !m.Expiry.IsZero() && m.expired(l.now) {
				continue
			}
			l.ownSrc, l.ownDst = nil, nil
			l.route(m)
		}
	})
}

// FromBusShared delivers a message that the bus gave this node for the
// shared subscription group/filter (filter without the $share prefix) to one
// member of the group here. Safe from any goroutine; returns at once.
func (srv *Server) FromBusShared(group, filter string, b []byte) {
	l := srv.bus
	if l == nil {
		return
	}
	l.post(func() {
		l.now = time.Now()
		m, err := decodeBusMessage(b, l.now)
		if err != nil {
			srv.goCtr.drop(dropBus)
			return
		}
		d, ok := srv.router.PickShared(group, filter, nil)
		if !ok {
			return // the member left since; the group elsewhere got nothing either (at most once on the bus)
		}
		s, ok := d.Client.(*session)
		if !ok {
			return
		}
		opt := deliverOpts{qos: d.QoS, subIDs: d.SubIDs, group: d.Group, filter: d.Filter}
		opt.retain = d.RetainAsPublished && m.Retain
		l.handOver(s.owner.Load(), s, m, opt)
	})
}

// SetRetainedFromBus stores (msg non-nil) or clears the retained message of
// topic as another node (or this one, echoed) set it. Safe from any
// goroutine.
func (srv *Server) SetRetainedFromBus(topic string, msg []byte) {
	if msg == nil {
		srv.retained.Delete(topic)
		return
	}
	m, err := decodeBusMessage(msg, time.Now())
	if err != nil {
		srv.goCtr.drop(dropBus)
		return
	}
	m.Retain = true
	srv.retained.Set(topic, m)
}

// subscribeRouter adds sub to the table and tells the cluster of a new
// subscription. Owner of sub.Client only.
func (srv *Server) subscribeRouter(sub router.Sub) (existed bool) {
	existed = srv.router.Subscribe(sub)
	if !existed && srv.cluster != nil {
		srv.cluster.Interest(sub.Filter, true)
	}
	return existed
}

// unsubscribeRouter removes s's subscription to filter and tells the cluster.
func (srv *Server) unsubscribeRouter(s *session, filter string) bool {
	existed := srv.router.Unsubscribe(s, []byte(filter))
	if existed && srv.cluster != nil {
		srv.cluster.Interest(filter, false)
	}
	return existed
}

// busBatches recycles the buffers loops fill with one turn's outbound
// cluster frames.
var busBatches = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBusBatch() []byte { return (*busBatches.Get().(*[]byte))[:0] }

// ReleaseBusBatch gives a batch passed to Cluster.Publish back for reuse.
func ReleaseBusBatch(b []byte) {
	if cap(b) > 1<<20 {
		return
	}
	b = b[:0]
	busBatches.Put(&b)
}
