package cluster

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server"
)

// op is one piece of work handed from an event loop to the bus goroutine.
// Interest changes travel in the same queue as publishes, so a subscription
// reaches NATS before any later publish of the same loop.
type op struct {
	batch  []byte // frames to publish (server.Cluster.Publish)
	filter string // or an interest change
	add    bool
}

// opQueue is an unbounded FIFO from many loops to one goroutine. Loops
// never wait on it: append under a short lock and a non-blocking wake.
type opQueue struct {
	mu   sync.Mutex
	ops  []op
	wake chan struct{}
}

func (q *opQueue) push(o op) {
	q.mu.Lock()
	q.ops = append(q.ops, o)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *opQueue) take(into []op) []op {
	q.mu.Lock()
	into, q.ops = q.ops, into[:0]
	q.mu.Unlock()
	return into
}

// interest is one distinct filter this node holds: how many of its sessions
// subscribed to it and the NATS subscriptions that bring its messages.
type interest struct {
	n    int
	subs []*nats.Subscription
}

type stats struct {
	published, received, duplicates, publishErrors atomic.Uint64
	filters, folded                                atomic.Int64
}

// Publish implements server.Cluster. Called by event loops.
func (n *Node) Publish(batch []byte) { n.out.push(op{batch: batch}) }

// Interest implements server.Cluster. Called by event loops.
func (n *Node) Interest(filter string, add bool) { n.out.push(op{filter: filter, add: add}) }

// sendLoop is the bus goroutine: it publishes the loops' batches in the
// order they came, stamping each message with this node's id and a
// sequence number, and applies interest changes.
func (n *Node) sendLoop() {
	var ops []op
	var seq uint64
	subj := make([]byte, 0, 256)
	for {
		select {
		case <-n.out.wake:
		case <-n.done:
			return
		}
		ops = n.out.take(ops)
		for i := range ops {
			o := &ops[i]
			if o.batch == nil {
				n.changeInterest(o.filter, o.add)
				*o = op{}
				continue
			}
			rest := o.batch
			for {
				msg, next, ok := server.NextBusFrame(rest)
				if !ok {
					break
				}
				rest = next
				topic, ok := server.BusTopic(msg)
				if !ok {
					continue
				}
				seq++
				server.SetBusOrigin(msg, n.id, seq)
				subj = AppendSubject(subj[:0], topic)
				if err := n.pc.Publish(string(subj), msg); err != nil {
					n.stats.publishErrors.Add(1)
					continue
				}
				n.stats.published.Add(1)
			}
			server.ReleaseBusBatch(o.batch)
			*o = op{}
		}
	}
}

// changeInterest counts one more or one less session subscribed to filter
// and subscribes on NATS on the first, unsubscribes on the last.
func (n *Node) changeInterest(filter string, add bool) {
	it := n.interest[filter]
	if add {
		if it == nil {
			it = &interest{}
			n.interest[filter] = it
		}
		it.n++
		if it.n == 1 {
			n.stats.filters.Add(1)
			if pf := n.foldFor(filter); pf != nil {
				pf.filters[filter] = it
				if pf.subs == nil && len(pf.filters) > n.cfg.InterestFold {
					n.fold(pf)
				}
				if pf.subs != nil {
					return // the prefix's one subscription brings it
				}
			}
			it.subs = n.subscribe(filter)
		}
		return
	}
	if it == nil {
		return
	}
	if it.n--; it.n > 0 {
		return
	}
	for _, s := range it.subs {
		_ = s.Unsubscribe()
	}
	delete(n.interest, filter)
	n.stats.filters.Add(-1)
	if pf := n.foldFor(filter); pf != nil {
		delete(pf.filters, filter)
		if len(pf.filters) == 0 {
			if pf.subs != nil {
				for _, s := range pf.subs {
					_ = s.Unsubscribe()
				}
				n.stats.folded.Add(-1)
			}
			delete(n.folds, pf.prefix)
		}
	}
}

// A node holding more than Config.InterestFold plain filters under one
// first level (dev/1, dev/2, ... for a topic per device) subscribes once to
// that level's "prefix/#" instead of once per filter: every other node then
// holds one route subscription for the prefix, not one per device, at the
// price of receiving the prefix's messages that no local filter wants (the
// local match drops them). The fold stays until the prefix's last filter
// goes.
type prefixFold struct {
	prefix  string
	filters map[string]*interest
	subs    []*nats.Subscription // the prefix's subscription, once folded
}

// foldFor returns the fold group of a plain filter whose first level is
// literal, or nil (folding off, a shared or a wildcard-first filter).
func (n *Node) foldFor(filter string) *prefixFold {
	if n.cfg.InterestFold <= 0 {
		return nil
	}
	if _, _, shared := router.ParseShared([]byte(filter)); shared {
		return nil
	}
	first, _, _ := strings.Cut(filter, "/")
	if first == "+" || first == "#" || first == filter {
		return nil // a one-level filter is its own prefix
	}
	pf := n.folds[first]
	if pf == nil {
		pf = &prefixFold{prefix: first, filters: make(map[string]*interest)}
		n.folds[first] = pf
	}
	return pf
}

// fold replaces the prefix's filters' subscriptions by one for "prefix/#".
func (n *Node) fold(pf *prefixFold) {
	pf.subs = n.subscribe(pf.prefix + "/#")
	for _, it := range pf.filters {
		for _, s := range it.subs {
			_ = s.Unsubscribe()
		}
		it.subs = nil
	}
	n.stats.folded.Add(1)
}

// subscribe asks NATS for the messages of filter: plain filters on the
// node's one ordered channel (so that copies of one message brought by
// overlapping filters arrive together and are dropped but one), shared ones
// as a queue subscription per group, so NATS picks one node of the group.
func (n *Node) subscribe(filter string) []*nats.Subscription {
	group, inner, shared := router.ParseShared([]byte(filter))
	var subs []*nats.Subscription
	for _, subject := range FilterSubjects(string(inner)) {
		var s *nats.Subscription
		var err error
		if shared {
			g, f := string(group), string(inner)
			s, err = n.qc.QueueSubscribe(subject, QueueName(g), func(m *nats.Msg) {
				n.stats.received.Add(1)
				n.srv.FromBusShared(g, f, m.Data)
			})
			if err == nil {
				_ = s.SetPendingLimits(-1, 256<<20)
			}
		} else {
			s, err = n.pc.ChanSubscribe(subject, n.in)
		}
		if err != nil {
			n.log.Error("cluster: cannot subscribe on the bus; this node will miss messages for the filter", "filter", filter, "subject", subject, "err", err)
			continue
		}
		subs = append(subs, s)
	}
	return subs
}

// receiveLoop hands the messages of plain subscriptions to the server in
// batches. Copies of one message (one per overlapping filter) arrive one
// after another on the node's single connection, in the publisher's order,
// so a message is new only when its sequence number is above the last one
// seen from its node.
func (n *Node) receiveLoop() {
	last := make(map[uint64]uint64)
	for {
		var first *nats.Msg
		select {
		case first = <-n.in:
		case <-n.done:
			return
		}
		batch := make([][]byte, 0, 16)
		add := func(m *nats.Msg) {
			origin, seq, ok := server.BusOrigin(m.Data)
			if !ok {
				return
			}
			if seq <= last[origin] {
				n.stats.duplicates.Add(1)
				return
			}
			last[origin] = seq
			n.stats.received.Add(1)
			batch = append(batch, m.Data)
		}
		add(first)
	drain:
		for len(batch) < 1024 {
			select {
			case m := <-n.in:
				add(m)
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			n.srv.FromBus(batch)
		}
	}
}
