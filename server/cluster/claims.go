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
// Replies come to one wildcard inbox per node, so a claim adds no
// subscription (whose interest would travel to every node).
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
	subs    []*nats.Subscription
}

func (n *Node) startClaims() error {
	c := &n.claims
	c.pending = make(map[string]*pendingClaim)
	c.waiting = make(map[uint64]chan []byte)
	c.won = make(map[string]wonClaim)
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
	return nil
}

// Claim implements server.Cluster. Called by event loops: the work runs on
// a goroutine of its own.
func (n *Node) Claim(id string, clean bool, done server.ClaimDone) {
	go n.claim(id, clean, done)
}

func (n *Node) claim(id string, clean bool, done server.ClaimDone) {
	c := &n.claims
	pc := &pendingClaim{key: claimKey{time.Now().UnixNano(), n.name}}
	c.mu.Lock()
	if old := c.pending[id]; old != nil {
		old.lost = true // two CONNECTs for one id on this node: the newer goes on
	}
	c.pending[id] = pc
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

	var state []byte
	if peers > 0 {
		req := binary.BigEndian.AppendUint64(nil, uint64(pc.key.ts))
		if clean {
			req = append(req, 1)
		} else {
			req = append(req, 0)
		}
		req = append(binary.BigEndian.AppendUint16(req, uint16(len(n.name))), n.name...)
		req = append(req, id...)
		err := n.pc.PublishMsg(&nats.Msg{Subject: subjClaim, Reply: c.inbox + "." + strconv.FormatUint(tok, 10), Data: req})
		if err == nil {
			timer := time.NewTimer(claimTimeout)
		collect:
			for got := 0; got < peers; got++ {
				select {
				case a := <-ch:
					switch {
					case len(a) > 1 && a[0] == 1:
						state = a[1:]
					case len(a) == 1 && a[0] == 2:
						c.mu.Lock()
						pc.lost = true // a newer claim elsewhere already attached
						c.mu.Unlock()
					}
				case <-timer.C:
					n.log.Warn("cluster: not every node answered a client id claim in time; going on", "client_id", id, "answers", got, "nodes", peers)
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
	done(state, func(attach func()) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.pending[id] == pc {
			delete(c.pending, id)
		}
		if pc.lost {
			return false
		}
		attach()
		if peers > 0 {
			c.won[id] = wonClaim{pc.key, time.Now()}
		}
		return true
	})
}

// onClaim answers another node's claim.
func (n *Node) onClaim(m *nats.Msg) {
	d := m.Data
	if len(d) < 11 || m.Reply == "" {
		return
	}
	key := claimKey{ts: int64(binary.BigEndian.Uint64(d))}
	clean := d[8] == 1
	nl := int(binary.BigEndian.Uint16(d[9:]))
	if len(d) < 11+nl {
		return
	}
	key.node = string(d[11 : 11+nl])
	id := string(d[11+nl:])
	c := &n.claims
	c.mu.Lock()
	if p := c.pending[id]; p != nil {
		if key.newer(p.key) {
			p.lost = true
		}
		c.mu.Unlock()
		_ = m.Respond([]byte{0})
		return
	}
	if w, ok := c.won[id]; ok && w.key.newer(key) {
		c.mu.Unlock()
		_ = m.Respond([]byte{2}) // the claims crossed and ours, the newer, attached
		return
	}
	c.mu.Unlock()
	n.srv.ReleaseForCluster(id, clean, func(state []byte) {
		if state == nil {
			_ = m.Respond([]byte{0})
			return
		}
		_ = m.Respond(append([]byte{1}, state...))
	})
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
