package cluster

import (
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Membership: every node says it is alive on subjHeartbeat each Heartbeat
// (its name, run id and connection count), and goodbye on subjBye when it
// closes. A node unheard for three heartbeats has left. Joins and leaves are
// logged; Members is the Go view for the admin API and metrics.
const (
	subjHeartbeat = "cp7.node.hb"
	subjBye       = "cp7.node.bye"
)

// Member is one node as this node sees it.
type Member struct {
	Name        string    `json:"name"`
	Self        bool      `json:"self"`
	Connections int64     `json:"connections"`
	LastSeen    time.Time `json:"last_seen"`
	Since       time.Time `json:"since"`
}

type beat struct {
	Name        string `json:"name"`
	ID          uint64 `json:"id"`
	Connections int64  `json:"connections"`
}

type members struct {
	mu    sync.Mutex
	peers map[string]*Member
	sub   []*nats.Subscription
	stop  chan struct{}
	wg    sync.WaitGroup
	since time.Time
}

func (n *Node) startMembers() error {
	m := &n.members
	m.peers = make(map[string]*Member)
	m.stop = make(chan struct{})
	m.since = time.Now()
	hb, err := n.pc.Subscribe(subjHeartbeat, func(msg *nats.Msg) {
		var b beat
		if json.Unmarshal(msg.Data, &b) != nil || b.Name == n.name {
			return
		}
		now := time.Now()
		m.mu.Lock()
		p := m.peers[b.Name]
		if p == nil {
			p = &Member{Name: b.Name, Since: now}
			m.peers[b.Name] = p
			n.log.Info("cluster: node joined", "node", b.Name)
		}
		p.LastSeen, p.Connections = now, b.Connections
		m.mu.Unlock()
	})
	if err != nil {
		return err
	}
	bye, err := n.pc.Subscribe(subjBye, func(msg *nats.Msg) {
		name := string(msg.Data)
		m.mu.Lock()
		if _, ok := m.peers[name]; ok {
			delete(m.peers, name)
			n.log.Info("cluster: node left", "node", name, "reason", "goodbye")
		}
		m.mu.Unlock()
	})
	if err != nil {
		return err
	}
	m.sub = []*nats.Subscription{hb, bye}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(n.cfg.Heartbeat)
		defer t.Stop()
		n.sendBeat()
		for {
			select {
			case <-m.stop:
				return
			case now := <-t.C:
				n.sendBeat()
				n.forgetWon(now)
				m.mu.Lock()
				for name, p := range m.peers {
					if now.Sub(p.LastSeen) > 3*n.cfg.Heartbeat {
						delete(m.peers, name)
						n.log.Warn("cluster: node left", "node", name, "reason", "no heartbeat", "last_seen", p.LastSeen)
					}
				}
				m.mu.Unlock()
			}
		}
	}()
	return nil
}

func (n *Node) sendBeat() {
	b, _ := json.Marshal(beat{Name: n.name, ID: n.id, Connections: n.srv.Stats().Connections})
	_ = n.pc.Publish(subjHeartbeat, b)
}

func (n *Node) stopMembers() {
	m := &n.members
	if m.stop == nil {
		return
	}
	close(m.stop)
	m.wg.Wait()
	if n.pc != nil {
		_ = n.pc.Publish(subjBye, []byte(n.name))
		_ = n.pc.Flush()
	}
}

// Members lists the nodes of the cluster as this node sees them, itself
// first, then the others by name.
func (n *Node) Members() []Member {
	m := &n.members
	self := Member{Name: n.name, Self: true, Connections: n.srv.Stats().Connections, LastSeen: time.Now(), Since: m.since}
	m.mu.Lock()
	out := make([]Member, 0, len(m.peers)+1)
	for _, p := range m.peers {
		out = append(out, *p)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return append([]Member{self}, out...)
}

// Status is the cluster's view for GET /api/v1/cluster and metrics.
type Status struct {
	Node      string   `json:"node"`
	Cluster   string   `json:"cluster"`
	Route     string   `json:"route,omitempty"`
	External  bool     `json:"external_nats"`
	Members   []Member `json:"members"`
	Published uint64   `json:"bus_published"`
	Received  uint64   `json:"bus_received"`
	Dups      uint64   `json:"bus_duplicates_dropped"`
	Errors    uint64   `json:"bus_publish_errors"`
	Filters   int64    `json:"filters"`
	Folded    int64    `json:"folded_prefixes"`
}

// Status returns the node's membership and bus counters.
func (n *Node) Status() Status {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	st := Status{
		Node:      n.name,
		Cluster:   n.cfg.ClusterName,
		Route:     n.RouteAddr(),
		External:  n.ns == nil,
		Published: n.stats.published.Load(),
		Received:  n.stats.received.Load(),
		Dups:      n.stats.duplicates.Load(),
		Errors:    n.stats.publishErrors.Load(),
		Filters:   n.stats.filters.Load(),
		Folded:    n.stats.folded.Load(),
	}
	if !closed {
		st.Members = n.Members()
	}
	return st
}
