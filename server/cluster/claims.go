package cluster

import (
	"encoding/binary"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cp7/cp7/server"
)

// Client-id uniqueness: before a CONNECT attaches, its node broadcasts a
// claim on subjClaim (the id, clean start, and a key: the claim's time and
// the node's name) and waits for every other live node's answer, at most
// claimTimeout. A node holding the id closes that connection and answers
// with the session's state when it persists (server.ReleaseForCluster);
// the others answer "none". Two nodes racing for one id each see the
// other's claim while their own is pending: the newer key wins and the
// older claim's commit refuses to attach, so exactly one connection stays.
// Claims made while earlier ones wait for answers leave together in one
// message (one answer per node per batch), so a connect storm does not cost
// a broadcast per CONNECT. Replies come to one wildcard inbox per node, so
// a claim adds no subscription (whose interest would travel to every node).
const (
	subjClaim    = "cp7.claim"
	claimTimeout = 2 * time.Second
)

type claimKey struct {
	ts   int64
	node string
}

func (a claimKey) newer(b claimKey) bool { return a.ts > b.ts || a.ts == b.ts && a.node > b.node }

type wonClaim struct {
	key claimKey
	at  time.Time
}

type pendingClaim struct {
	key  claimKey
	lost bool
}

type claims struct {
	mu      sync.Mutex
	pending map[string]*pendingClaim // client id → this node's claim in progress
	// won holds this node's claims that attached in the last few seconds:
	// an older claim from another node that arrives after ours attached
	// (the claims crossed) is told it lost, instead of taking the session.
	won     map[string]wonClaim
	waiting map[uint64]chan []byte // reply token → the claim waiting for it
	next    uint64
	inbox   string // reply subject prefix
	queue   []claimReq
	wake    chan struct{}
	subs    []*nats.Subscription
}

func (n *Node) startClaims() error {
	c := &n.claims
	c.pending = make(map[string]*pendingClaim)
	c.waiting = make(map[uint64]chan []byte)
	c.won = make(map[string]wonClaim)
	c.wake = make(chan struct{}, 1)
	c.inbox = "_INBOX.cp7claim." + strconv.FormatUint(n.id, 36)
	rs, err := n.pc.Subscribe(c.inbox+".*", func(m *nats.Msg) {
		tok, err := strconv.ParseUint(m.Subject[len(c.inbox)+1:], 10, 64)
		if err != nil {
			return
		}
		c.mu.Lock()
		ch := c.waiting[tok]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m.Data:
			default: // more answers than peers: a node joined meanwhile
			}
		}
	})
	if err != nil {
		return err
	}
	cs, err := n.pc.Subscribe(subjClaim, n.onClaim)
	if err != nil {
		return err
	}
	c.subs = []*nats.Subscription{rs, cs}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.claimLoop() }()
	return nil
}

// claimReq is one CONNECT's claim waiting to go out in a batch.
type claimReq struct {
	id    string
	clean bool
	done  server.ClaimDone
	pc    *pendingClaim
}

// claimsInFlight bounds the batches waiting for answers at once; claims
// made meanwhile queue up and leave together, so a connect storm costs one
// broadcast and one answer per node per batch, not per CONNECT.
const claimsInFlight = 4

// Claim implements server.Cluster. Called by event loops: it registers the
// claim and queues it for the batching goroutine.
func (n *Node) Claim(id string, clean bool, done server.ClaimDone) {
	c := &n.claims
	pc := &pendingClaim{key: claimKey{time.Now().UnixNano(), n.name}}
	c.mu.Lock()
	if old := c.pending[id]; old != nil {
		old.lost = true // two CONNECTs for one id on this node: the newer goes on
	}
	c.pending[id] = pc
	c.queue = append(c.queue, claimReq{id, clean, done, pc})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// claimLoop sends the queued claims in batches, at most claimsInFlight
// batches at a time.
func (n *Node) claimLoop() {
	c := &n.claims
	slots := make(chan struct{}, claimsInFlight)
	for {
		select {
		case <-c.wake:
		case <-n.done:
			return
		}
		select {
		case slots <- struct{}{}:
		case <-n.done:
			return
		}
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		if len(batch) == 0 {
			<-slots
			continue
		}
		go func() {
			defer func() { <-slots }()
			n.claimBatch(batch)
			select { // claims that queued while this batch was out
			case c.wake <- struct{}{}:
			default:
			}
		}()
	}
}

// claimBatch asks every other node about each claim of batch, then reports
// each to its loop.
func (n *Node) claimBatch(batch []claimReq) {
	c := &n.claims
	states := make([][]byte, len(batch))
	c.mu.Lock()
	peers := n.peerCount()
	var ch chan []byte
	var tok uint64
	if peers > 0 {
		c.next++
		tok = c.next
		ch = make(chan []byte, peers)
		c.waiting[tok] = ch
	}
	c.mu.Unlock()
	if peers > 0 {
		req := append(binary.BigEndian.AppendUint16(nil, uint16(len(n.name))), n.name...)
		req = binary.BigEndian.AppendUint16(req, uint16(len(batch)))
		for _, r := range batch {
			req = binary.BigEndian.AppendUint64(req, uint64(r.pc.key.ts))
			if r.clean {
				req = append(req, 1)
			} else {
				req = append(req, 0)
			}
			req = append(binary.BigEndian.AppendUint16(req, uint16(len(r.id))), r.id...)
		}
		err := n.pc.PublishMsg(&nats.Msg{Subject: subjClaim, Reply: c.inbox + "." + strconv.FormatUint(tok, 10), Data: req})
		if err == nil {
			timer := time.NewTimer(claimTimeout)
		collect:
			for got := 0; got < peers; got++ {
				select {
				case a := <-ch:
					n.readAnswer(a, batch, states)
				case <-timer.C:
					n.log.Warn("cluster: not every node answered client id claims in time; going on", "claims", len(batch), "answers", got, "nodes", peers)
					break collect
				case <-n.done:
					break collect
				}
			}
			timer.Stop()
		}
		c.mu.Lock()
		delete(c.waiting, tok)
		c.mu.Unlock()
	}
	for i, r := range batch {
		r := r
		r.done(states[i], func(attach func()) bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.pending[r.id] == r.pc {
				delete(c.pending, r.id)
			}
			if r.pc.lost {
				return false
			}
			attach()
			if peers > 0 {
				c.won[r.id] = wonClaim{r.pc.key, time.Now()}
			}
			return true
		})
	}
}

// readAnswer applies one node's answer to a batch: per claim a code (0
// none, 1 the session follows as u32 length and state, 2 a newer claim
// there already attached: this one lost).
func (n *Node) readAnswer(a []byte, batch []claimReq, states [][]byte) {
	if len(a) < 2 || int(binary.BigEndian.Uint16(a)) != len(batch) {
		return
	}
	a = a[2:]
	for i := range batch {
		if len(a) < 1 {
			return
		}
		code := a[0]
		a = a[1:]
		switch code {
		case 1:
			if len(a) < 4 || len(a)-4 < int(binary.BigEndian.Uint32(a)) {
				return
			}
			k := int(binary.BigEndian.Uint32(a))
			states[i] = a[4 : 4+k]
			a = a[4+k:]
		case 2:
			n.claims.mu.Lock()
			batch[i].pc.lost = true
			n.claims.mu.Unlock()
		}
	}
}

// claimAnswer collects the answers to one batch of another node's claims
// (some come from loops, releasing sessions) and sends them as one reply.
type claimAnswer struct {
	mu      sync.Mutex
	codes   []byte
	states  [][]byte
	waiting int
	m       *nats.Msg
}

func (a *claimAnswer) set(i int, code byte, state []byte) {
	a.mu.Lock()
	a.codes[i], a.states[i] = code, state
	a.mu.Unlock()
	a.finish()
}

// finish counts one answer (or the end of handing them out) and sends the
// reply after the last.
func (a *claimAnswer) finish() {
	a.mu.Lock()
	a.waiting--
	last := a.waiting == 0
	a.mu.Unlock()
	if !last {
		return
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(a.codes)))
	for i, code := range a.codes {
		out = append(out, code)
		if code == 1 {
			out = binary.BigEndian.AppendUint32(out, uint32(len(a.states[i])))
			out = append(out, a.states[i]...)
		}
	}
	_ = a.m.Respond(out)
}

// onClaim answers another node's batch of claims.
func (n *Node) onClaim(m *nats.Msg) {
	d := m.Data
	if len(d) < 4 || m.Reply == "" {
		return
	}
	nl := int(binary.BigEndian.Uint16(d))
	if len(d) < 4+nl {
		return
	}
	node := string(d[2 : 2+nl])
	count := int(binary.BigEndian.Uint16(d[2+nl:]))
	d = d[4+nl:]
	type item struct {
		key   claimKey
		clean bool
		id    string
	}
	items := make([]item, 0, count)
	for range count {
		if len(d) < 11 {
			return
		}
		it := item{key: claimKey{int64(binary.BigEndian.Uint64(d)), node}, clean: d[8] == 1}
		il := int(binary.BigEndian.Uint16(d[9:]))
		if len(d) < 11+il {
			return
		}
		it.id = string(d[11 : 11+il])
		d = d[11+il:]
		items = append(items, it)
	}
	ans := &claimAnswer{codes: make([]byte, count), states: make([][]byte, count), waiting: count + 1, m: m}
	c := &n.claims
	for i, it := range items {
		c.mu.Lock()
		if p := c.pending[it.id]; p != nil {
			if it.key.newer(p.key) {
				p.lost = true
			}
			c.mu.Unlock()
			ans.set(i, 0, nil)
			continue
		}
		if w, ok := c.won[it.id]; ok && w.key.newer(it.key) {
			c.mu.Unlock()
			ans.set(i, 2, nil) // the claims crossed and ours, the newer, attached
			continue
		}
		c.mu.Unlock()
		i := i
		n.srv.ReleaseForCluster(it.id, it.clean, func(state []byte) {
			if state == nil {
				ans.set(i, 0, nil)
				return
			}
			ans.set(i, 1, state)
		})
	}
	ans.finish() // the extra count: every item is handed out
}

// peerCount is the number of other live nodes.
func (n *Node) peerCount() int {
	n.members.mu.Lock()
	defer n.members.mu.Unlock()
	return len(n.members.peers)
}

// forgetWon drops won claims older than twice the claim timeout: no claim
// they raced with can still be in flight. Called once a heartbeat.
func (n *Node) forgetWon(now time.Time) {
	c := &n.claims
	c.mu.Lock()
	for id, w := range c.won {
		if now.Sub(w.at) > 2*claimTimeout {
			delete(c.won, id)
		}
	}
	c.mu.Unlock()
}
