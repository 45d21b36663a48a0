package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cp7/cp7/codec"
)

// This file is what the admin API reads and does: listing sessions, one
// session's details, kicking a client, retained messages, publishing. Every
// read of a session's state runs as a task on the session's owner loop
// (ownership rule), and the caller waits with a deadline.

// ClientInfo describes one session and, when connected, its connection.
type ClientInfo struct {
	ID             string    `json:"client_id"`
	Connected      bool      `json:"connected"`
	Username       string    `json:"username,omitempty"`
	Address        string    `json:"address,omitempty"`
	Listener       string    `json:"listener,omitempty"`
	Protocol       string    `json:"protocol,omitempty"`
	KeepAlive      uint16    `json:"keepalive,omitempty"`
	ConnectedSince time.Time `json:"connected_since,omitzero"`
	SessionExpiry  uint32    `json:"session_expiry"`
	Inflight       int       `json:"inflight"`
	Queued         int       `json:"queued"`
	Subscriptions  int       `json:"subscriptions"`
	// Subs lists the subscriptions (Client only, not in lists).
	Subs []SubInfo `json:"subs,omitempty"`
}

// SubInfo is one subscription of a session.
type SubInfo struct {
	ClientID string `json:"client_id,omitempty"`
	Filter   string `json:"filter"`
	QoS      byte   `json:"qos"`
}

// ClientQuery selects sessions for Clients. Empty fields match all.
type ClientQuery struct {
	IDPrefix string // client id starts with
	Username string // exact username
	Address  string // remote address contains (e.g. "10.0.0.7:" or an IP)
	// Cursor is the Next of the previous page ("" for the first).
	Cursor string
	Limit  int // page size; 0 means 100, at most 1000
}

// ClientPage is one page of Clients. Next is "" on the last page.
type ClientPage struct {
	Clients []ClientInfo `json:"clients"`
	Next    string       `json:"next,omitempty"`
	Total   int64        `json:"total"` // sessions in the registry (unfiltered)
}

// ErrNotFound is returned for a client id or retained topic that does not
// exist.
var ErrNotFound = errors.New("server: not found")

// inspectScanBudget bounds the sessions one Clients call examines when it
// filters by username or address (which only the owner loops can read): a
// page may then come back short, with a cursor to go on from.
const inspectScanBudget = 20000

// Clients returns one page of sessions matching q, in registry order (stable
// while the registry does not grow or shrink). With a million sessions a
// page costs its own size plus what the filters skip, never a full dump.
func (srv *Server) Clients(ctx context.Context, q ClientQuery) (ClientPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	shard, slot, err := parseCursor(q.Cursor)
	if err != nil {
		return ClientPage{}, err
	}
	page := ClientPage{Total: srv.sessions.count.Load()}
	needLoop := q.Username != "" || q.Address != ""
	scanned := 0
	for shard < len(srv.sessions.shards) && len(page.Clients) < limit {
		// Take a batch of candidates from this shard under its lock.
		want := limit - len(page.Clients)
		if needLoop {
			want = 512
		}
		var batch []*session
		sh := &srv.sessions.shards[shard]
		sh.mu.Lock()
		for slot < len(sh.slots) && len(batch) < want {
			if s := sh.slots[slot]; s != nil && strings.HasPrefix(s.id, q.IDPrefix) {
				batch = append(batch, s)
			}
			slot++
		}
		done := slot >= len(sh.slots)
		sh.mu.Unlock()
		scanned += len(batch)
		infos, err := srv.inspect(ctx, batch, false)
		if err != nil {
			return ClientPage{}, err
		}
		for _, ci := range infos {
			if ci.ID == "" || q.Username != "" && ci.Username != q.Username ||
				q.Address != "" && !strings.Contains(ci.Address, q.Address) {
				continue
			}
			page.Clients = append(page.Clients, ci)
		}
		if done {
			shard, slot = shard+1, 0
		}
		if needLoop && scanned >= inspectScanBudget {
			break
		}
	}
	if shard < len(srv.sessions.shards) {
		page.Next = fmt.Sprintf("%d.%d", shard, slot)
	}
	return page, nil
}

func parseCursor(c string) (shard, slot int, err error) {
	if c == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(c, ".")
	shard, e1 := strconv.Atoi(a)
	slot, e2 := strconv.Atoi(b)
	if !ok || e1 != nil || e2 != nil || shard < 0 || slot < 0 || shard > len(registry{}.shards) {
		return 0, 0, fmt.Errorf("server: cursor %q is not one this server gave: pass the \"next\" of the previous page", c)
	}
	return shard, slot, nil
}

// Client returns the details of one session, with its subscriptions.
func (srv *Server) Client(ctx context.Context, id string) (ClientInfo, error) {
	s := srv.sessions.get(id)
	if s == nil {
		return ClientInfo{}, ErrNotFound
	}
	infos, err := srv.inspect(ctx, []*session{s}, true)
	if err != nil {
		return ClientInfo{}, err
	}
	if infos[0].ID == "" {
		return ClientInfo{}, ErrNotFound // ended meanwhile
	}
	return infos[0], nil
}

// Subscriptions returns one page of subscriptions, paged by session like
// Clients (filter by client id prefix).
func (srv *Server) Subscriptions(ctx context.Context, q ClientQuery) ([]SubInfo, string, error) {
	q.Username, q.Address = "", ""
	page, err := srv.Clients(ctx, q)
	if err != nil {
		return nil, "", err
	}
	var ss []*session
	for _, c := range page.Clients {
		if c.Subscriptions > 0 {
			if s := srv.sessions.get(c.ID); s != nil {
				ss = append(ss, s)
			}
		}
	}
	infos, err := srv.inspect(ctx, ss, true)
	if err != nil {
		return nil, "", err
	}
	var out []SubInfo
	for _, ci := range infos {
		for _, sub := range ci.Subs {
			sub.ClientID = ci.ID
			out = append(out, sub)
		}
	}
	return out, page.Next, nil
}

// inspect reads sessions on their owner loops: one task per loop for the
// sessions it owns, waiting until ctx is done. A session that moved or
// ended meanwhile comes back with an empty ID.
func (srv *Server) inspect(ctx context.Context, ss []*session, detail bool) ([]ClientInfo, error) {
	out := make([]ClientInfo, len(ss))
	if len(ss) == 0 {
		return out, nil
	}
	byLoop := make(map[*loop][]int)
	for i, s := range ss {
		o := s.owner.Load()
		byLoop[o] = append(byLoop[o], i)
	}
	type part struct {
		idx   []int
		infos []ClientInfo
	}
	results := make(chan part, len(byLoop))
	posted := 0
	for l, idx := range byLoop {
		l, idx := l, idx
		if !l.post(func() {
			p := part{idx: idx, infos: make([]ClientInfo, len(idx))}
			for j, i := range idx {
				if s := ss[i]; s.owner.Load() == l && !s.removed {
					p.infos[j] = s.info(detail)
				}
			}
			results <- p
		}) {
			continue // the loop ended: its sessions moved, leave them empty
		}
		posted++
	}
	for range posted {
		select {
		case p := <-results:
			for j, i := range p.idx {
				out[i] = p.infos[j]
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("server: event loops did not answer in time (%w); the broker is overloaded, try again", ctx.Err())
		}
	}
	return out, nil
}

// info describes s. Owner only.
func (s *session) info(detail bool) ClientInfo {
	ci := ClientInfo{ID: s.id, SessionExpiry: s.expiry, Subscriptions: len(s.subs)}
	if st := s.st; st != nil {
		ci.Inflight, ci.Queued = len(st.inflight), len(st.queue)
	}
	if c := s.c; c != nil && c.state == stateConnected {
		ci.Connected = true
		ci.Username = c.username()
		ci.Address = addrString(c.remoteAddr())
		ci.Listener = listenerNames[c.listener()]
		ci.Protocol = versionNames[versionIndex(c.version)]
		ci.KeepAlive = c.keepAlive
		ci.ConnectedSince = time.Unix(int64(s.since), 0).UTC()
	}
	if detail {
		for f, sub := range s.subs {
			ci.Subs = append(ci.Subs, SubInfo{Filter: f, QoS: sub.QoS})
		}
	}
	return ci
}

// Kick disconnects the client with id (v5: DISCONNECT 0x98 Administrative
// action). The session itself stays, as its expiry says. It returns
// ErrNotFound when no such client is connected.
func (srv *Server) Kick(ctx context.Context, id string) error {
	s := srv.sessions.get(id)
	if s == nil || !s.Connected() {
		return ErrNotFound
	}
	done := make(chan bool, 1)
	srv.postToOwner(s, func(l *loop) {
		c := s.c
		if c == nil || c.state != stateConnected || c.closing {
			done <- false
			return
		}
		if l.srv.logInfo {
			l.srv.log.Info("closing connection", "client_id", s.id, "remote", addrString(c.remoteAddr()), "reason", "kicked by an administrator")
		}
		l.disconnect(c, codec.AdministrativeAction)
		done <- true
	})
	select {
	case ok := <-done:
		if !ok {
			return ErrNotFound
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: the client's event loop did not answer in time (%w)", ctx.Err())
	}
}

// RetainedInfo is one retained message.
type RetainedInfo struct {
	Topic   string `json:"topic"`
	QoS     byte   `json:"qos"`
	Size    int    `json:"size"`
	Payload string `json:"payload,omitempty"` // up to 256 bytes, as text
}

// Retained returns up to limit retained messages matching filter ("#" when
// empty; "$SYS/#" for $SYS) whose topics sort after cursor, in topic order.
// It walks the tree once and keeps only the page, so a million retained
// topics cost one walk and no big allocation.
func (srv *Server) Retained(filter, cursor string, limit int) ([]RetainedInfo, string) {
	if filter == "" {
		filter = "#"
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var best topK
	best.max = limit
	srv.retained.Match([]byte(filter), func(topic string, m *Message) bool {
		if topic > cursor {
			best.offer(topic, m)
		}
		return true
	})
	out := make([]RetainedInfo, 0, len(best.items))
	for _, it := range best.sorted() {
		p := it.m.Payload
		if len(p) > 256 {
			p = p[:256]
		}
		out = append(out, RetainedInfo{Topic: it.topic, QoS: it.m.QoS, Size: len(it.m.Payload), Payload: string(p)})
	}
	next := ""
	if len(out) == limit {
		next = out[len(out)-1].Topic
	}
	return out, next
}

// DeleteRetained removes the retained message of topic.
func (srv *Server) DeleteRetained(topic string) error {
	if !srv.retained.Delete(topic) {
		return ErrNotFound
	}
	return nil
}

// Publish routes a message as if a client without a session had published
// it (admin API, $SYS). It runs on the server's parking loop and returns
// once routed, or when ctx is done.
func (srv *Server) Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	if qos > srv.cfg.MaxQoS {
		return fmt.Errorf("server: QoS %d is above the broker's maximum %d", qos, srv.cfg.MaxQoS)
	}
	if !validPublishTopic(topic) {
		return fmt.Errorf("server: %q is not a topic name: no wildcards, not empty, at most 65535 bytes", topic)
	}
	m := (&Message{Topic: []byte(topic), Payload: payload, QoS: qos, Retain: retain}).own()
	done := make(chan struct{})
	p := srv.parking
	if p == nil || !p.post(func() { p.publishLocal(m); close(done) }) {
		return errors.New("server: not running")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: publish not routed in time (%w)", ctx.Err())
	}
}

// publishLocal routes m (owned) from this loop, retained if asked.
func (l *loop) publishLocal(m *Message) {
	l.now = time.Now()
	l.ownSrc, l.ownDst = nil, nil
	if m.Retain && l.srv.cfg.RetainAvailable {
		l.retain(m)
	}
	l.route(m)
}
