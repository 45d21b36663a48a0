package server

import (
	"sort"
	"strconv"
	"time"
)

// Metrics is a snapshot of the broker's figures, summed over every loop
// when taken. $SYS, the admin API's /metrics and /api/v1/stats and the
// dashboard all read it, so they agree. Safe to call from any goroutine; it
// reads only atomics and locked counts, never a loop's own state.
type Metrics struct {
	Time    time.Time     `json:"time"`
	Uptime  time.Duration `json:"uptime_ns"`
	Version string        `json:"version"`

	// ConnectionsOpen counts network connections, CONNECT sent or not.
	ConnectionsOpen int64 `json:"connections_open"`
	// Connected counts connections past CONNACK, by listener and protocol.
	Connected []ConnCount `json:"connected"`
	// ConnectedTotal is the sum of Connected (= sessions online).
	ConnectedTotal int64             `json:"connected_total"`
	Connects       uint64            `json:"connects"` // CONNACK 0x00 sent
	Disconnects    map[string]uint64 `json:"disconnects"`

	MessagesIn  [3]uint64 `json:"messages_in"` // PUBLISH received, by QoS
	MessagesOut [3]uint64 `json:"messages_out"`
	BytesIn     [3]uint64 `json:"publish_bytes_in"` // PUBLISH packet bytes, by QoS
	BytesOut    [3]uint64 `json:"publish_bytes_out"`
	NetBytesIn  uint64    `json:"bytes_in"` // every MQTT byte read
	NetBytesOut uint64    `json:"bytes_out"`

	Dropped      map[string]uint64 `json:"dropped"`
	DroppedTotal uint64            `json:"dropped_total"`
	Events       map[string]uint64 `json:"events"`

	Retained        int   `json:"retained"`
	Subscriptions   int   `json:"subscriptions"`
	Sessions        int64 `json:"sessions"`
	SessionsOffline int64 `json:"sessions_offline"`
	Inflight        int64 `json:"inflight"`
	// AuthPending counts CONNECTs waiting for an auth worker's answer.
	AuthPending int64 `json:"auth_pending"`
	Queued      int64 `json:"queued"`

	// Loops lists each event loop's backlog: deliveries handed to it by
	// other loops and not yet run.
	Loops []LoopBacklog `json:"loops"`

	extra []Family // from AddCollector
}

// ConnCount is the number of connections of one listener and protocol.
type ConnCount struct {
	Listener string `json:"listener"`
	Protocol string `json:"protocol"`
	N        int64  `json:"n"`
}

// LoopBacklog is one loop's waiting hand-overs.
type LoopBacklog struct {
	Loop    string `json:"loop"`
	Backlog int64  `json:"backlog"`
}

// MessagesReceived is every PUBLISH received.
func (m *Metrics) MessagesReceived() uint64 {
	return m.MessagesIn[0] + m.MessagesIn[1] + m.MessagesIn[2]
}

// MessagesSent is every PUBLISH sent.
func (m *Metrics) MessagesSent() uint64 {
	return m.MessagesOut[0] + m.MessagesOut[1] + m.MessagesOut[2]
}

// Version is reported in $SYS/broker/version and the stats API.
var Version = "cp7 dev"

// Metrics sums the loops' counters into a snapshot.
func (srv *Server) Metrics() Metrics {
	now := time.Now()
	m := Metrics{Time: now, Uptime: now.Sub(srv.started), Version: Version,
		Disconnects: make(map[string]uint64, numCloseReasons),
		Dropped:     make(map[string]uint64, numDropReasons),
		Events:      make(map[string]uint64, numEvents)}
	var (
		conns    [numListeners][3]int64
		closes   [numCloseReasons]uint64
		events   [numEvents]uint64
		dropped  [numDropReasons]uint64
		inflight int64
		queued   int64
	)
	srv.ctrMu.Lock()
	ks := srv.ctrs
	srv.ctrMu.Unlock()
	for _, k := range ks {
		m.ConnectionsOpen += k.open.Load()
		for i := range conns {
			for v := range conns[i] {
				conns[i][v] += k.connected[i][v].Load()
			}
		}
		m.Connects += k.connects.Load()
		for i := range closes {
			closes[i] += k.closes[i].Load()
		}
		for i := range events {
			events[i] += k.events[i].Load()
		}
		for i := range dropped {
			dropped[i] += k.dropped[i].Load()
		}
		inflight += k.inflight.Load()
		queued += k.queued.Load()
		for q := range 3 {
			m.MessagesIn[q] += k.msgsIn[q].Load()
			m.MessagesOut[q] += k.msgsOut[q].Load()
			m.BytesIn[q] += k.bytesIn[q].Load()
			m.BytesOut[q] += k.bytesOut[q].Load()
		}
		m.NetBytesIn += k.netIn.Load()
		m.NetBytesOut += k.netOut.Load()
	}
	for i := range conns {
		for v, n := range conns[i] {
			if n != 0 || i == int(lstTCP) {
				m.Connected = append(m.Connected, ConnCount{Listener: listenerNames[i], Protocol: versionNames[v], N: n})
			}
			m.ConnectedTotal += n
		}
	}
	for i, n := range closes {
		if i != int(closeUnknown) || n != 0 {
			m.Disconnects[closeNames[i]] = n
		}
	}
	for i, n := range dropped {
		m.Dropped[dropNames[i]] = n
		m.DroppedTotal += n
	}
	for i, n := range events {
		m.Events[eventInfo[i].name] = n
	}
	m.Inflight, m.Queued = max(inflight, 0), max(queued, 0)
	m.AuthPending = srv.authPending.Load()
	m.Retained = srv.retained.Count()
	m.Subscriptions = srv.router.Count()
	m.Sessions = srv.sessions.count.Load()
	m.SessionsOffline = max(m.Sessions-m.ConnectedTotal, 0)
	srv.loopsMu.Lock()
	for l := range srv.loops {
		if l.name != "" {
			m.Loops = append(m.Loops, LoopBacklog{Loop: l.name, Backlog: l.backlog.Load() + l.pending()})
		}
	}
	srv.loopsMu.Unlock()
	sort.Slice(m.Loops, func(i, j int) bool { return loopLess(m.Loops[i].Loop, m.Loops[j].Loop) })
	srv.collectMu.Lock()
	m.extra = make([]Family, 0, len(srv.collectors))
	for _, fn := range srv.collectors {
		m.extra = append(m.extra, fn()...)
	}
	srv.collectMu.Unlock()
	return m
}

func loopLess(a, b string) bool {
	x, e1 := strconv.Atoi(a)
	y, e2 := strconv.Atoi(b)
	if e1 == nil && e2 == nil {
		return x < y
	}
	if (e1 == nil) != (e2 == nil) {
		return e1 == nil
	}
	return a < b
}

// Family is one Prometheus metric family.
type Family struct {
	Name    string   // cp7_..., without the type's suffix rules applied: counters end in _total
	Help    string   // one line
	Type    string   // "counter" or "gauge"
	Samples []Sample // at least one
}

// Sample is one value of a family with its labels (name, value pairs).
type Sample struct {
	Labels []string
	Value  float64
}

// AddCollector adds figures from outside the broker core (auth, store,
// cluster): fn is called on every scrape from the scraping goroutine and
// returns its families, named cp7_<part>_... It must be quick and safe for
// concurrent use.
func (srv *Server) AddCollector(fn func() []Family) {
	srv.collectMu.Lock()
	srv.collectors = append(srv.collectors, fn)
	srv.collectMu.Unlock()
}

// Families returns the snapshot as Prometheus families, in a stable order.
func (m *Metrics) Families() []Family {
	var fs []Family
	add := func(name, help, typ string, samples ...Sample) {
		fs = append(fs, Family{Name: name, Help: help, Type: typ, Samples: samples})
	}
	one := func(v float64) Sample { return Sample{Value: v} }
	qos := func(vals [3]uint64) []Sample {
		s := make([]Sample, 3)
		for q := range 3 {
			s[q] = Sample{Labels: []string{"qos", strconv.Itoa(q)}, Value: float64(vals[q])}
		}
		return s
	}
	add("cp7_uptime_seconds", "Seconds since the broker started.", "gauge", one(m.Uptime.Seconds()))
	add("cp7_connections_open", "Open network connections, CONNECT sent or not.", "gauge", one(float64(m.ConnectionsOpen)))
	cs := make([]Sample, 0, len(m.Connected))
	for _, c := range m.Connected {
		cs = append(cs, Sample{Labels: []string{"listener", c.Listener, "protocol", c.Protocol}, Value: float64(c.N)})
	}
	add("cp7_connections", "Connected MQTT clients (CONNACK sent), by listener and protocol version.", "gauge", cs...)
	add("cp7_connects_total", "Connections accepted (CONNACK 0x00 sent).", "counter", one(float64(m.Connects)))
	add("cp7_disconnects_total", "Connections ended, by reason.", "counter", labeled("reason", m.Disconnects)...)
	add("cp7_messages_received_total", "PUBLISH packets received, by QoS.", "counter", qos(m.MessagesIn)...)
	add("cp7_messages_sent_total", "PUBLISH packets sent, by QoS.", "counter", qos(m.MessagesOut)...)
	add("cp7_publish_received_bytes_total", "Bytes of PUBLISH packets received, by QoS.", "counter", qos(m.BytesIn)...)
	add("cp7_publish_sent_bytes_total", "Bytes of PUBLISH packets sent, by QoS.", "counter", qos(m.BytesOut)...)
	add("cp7_received_bytes_total", "MQTT bytes read from clients.", "counter", one(float64(m.NetBytesIn)))
	add("cp7_sent_bytes_total", "MQTT bytes written to clients.", "counter", one(float64(m.NetBytesOut)))
	add("cp7_messages_dropped_total", "Messages dropped, by reason.", "counter", labeled("reason", m.Dropped)...)
	for i := range numEvents {
		add("cp7_"+eventInfo[i].name+"_total", eventInfo[i].help, "counter", one(float64(m.Events[eventInfo[i].name])))
	}
	add("cp7_retained_messages", "Retained messages stored.", "gauge", one(float64(m.Retained)))
	add("cp7_subscriptions", "Subscriptions held by sessions.", "gauge", one(float64(m.Subscriptions)))
	add("cp7_sessions", "Sessions, by state.", "gauge",
		Sample{Labels: []string{"state", "online"}, Value: float64(m.ConnectedTotal)},
		Sample{Labels: []string{"state", "offline"}, Value: float64(m.SessionsOffline)})
	add("cp7_inflight_messages", "QoS 1/2 deliveries sent and not yet acknowledged.", "gauge", one(float64(m.Inflight)))
	add("cp7_auth_pending", "CONNECTs waiting for an authentication worker's answer.", "gauge", one(float64(m.AuthPending)))
	add("cp7_queued_messages", "QoS 1/2 deliveries queued for offline or busy sessions.", "gauge", one(float64(m.Queued)))
	ls := make([]Sample, 0, len(m.Loops))
	for _, l := range m.Loops {
		ls = append(ls, Sample{Labels: []string{"loop", l.Loop}, Value: float64(l.Backlog)})
	}
	if len(ls) > 0 {
		add("cp7_loop_backlog_tasks", "Hand-overs and tasks waiting for each event loop.", "gauge", ls...)
	}
	return append(fs, m.extra...)
}

func labeled(label string, vals map[string]uint64) []Sample {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := make([]Sample, len(keys))
	for i, k := range keys {
		s[i] = Sample{Labels: []string{label, k}, Value: float64(vals[k])}
	}
	return s
}
