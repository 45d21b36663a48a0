package admin

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/cp7/cp7/server"
)

// dashboardHTML is the whole dashboard: one page, its script and styles
// inline, charts drawn on canvas by the page itself; nothing is fetched
// from elsewhere.
//
//go:embed dashboard.html
var dashboardHTML []byte

func (a *api) dashboard(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.Write(dashboardHTML)
}

// Event is one Server-Sent Event of GET /api/v1/events, sent each
// eventInterval: totals, which the page turns into rates.
type Event struct {
	Time          int64              `json:"t"` // Unix milliseconds
	Uptime        float64            `json:"uptime"`
	Version       string             `json:"version"`
	Connected     int64              `json:"connected"`
	Open          int64              `json:"open"`
	MessagesIn    uint64             `json:"msgs_in"`
	MessagesOut   uint64             `json:"msgs_out"`
	BytesIn       uint64             `json:"bytes_in"`
	BytesOut      uint64             `json:"bytes_out"`
	Sessions      int64              `json:"sessions"`
	Offline       int64              `json:"offline"`
	Retained      int                `json:"retained"`
	Subscriptions int                `json:"subscriptions"`
	Dropped       uint64             `json:"dropped"`
	Inflight      int64              `json:"inflight"`
	Queued        int64              `json:"queued"`
	Busiest       []server.TopicRate `json:"busiest"`
}

// eventInterval is how often the dashboard's stream sends a snapshot.
var eventInterval = time.Second

func (a *api) snapshot() Event {
	m := a.srv.Metrics()
	return Event{Time: m.Time.UnixMilli(), Uptime: m.Uptime.Seconds(), Version: m.Version,
		Connected: m.ConnectedTotal, Open: m.ConnectionsOpen,
		MessagesIn: m.MessagesReceived(), MessagesOut: m.MessagesSent(), BytesIn: m.NetBytesIn, BytesOut: m.NetBytesOut,
		Sessions: m.Sessions, Offline: m.SessionsOffline, Retained: m.Retained, Subscriptions: m.Subscriptions,
		Dropped: m.DroppedTotal, Inflight: m.Inflight, Queued: m.Queued, Busiest: a.srv.BusiestTopics(10)}
}

// events streams snapshots as Server-Sent Events until the client leaves
// or the broker stops. Each stream is one goroutine and one ticker.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		jsonError(w, http.StatusInternalServerError, "admin: streaming unsupported by this connection")
		return
	}
	// The admin server's write timeout would cut the stream: lift it.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	t := time.NewTicker(eventInterval)
	defer t.Stop()
	send := func() bool {
		b, _ := json.Marshal(a.snapshot())
		if _, err := w.Write([]byte("data: ")); err != nil {
			return false
		}
		w.Write(b)
		if _, err := w.Write([]byte("\n\n")); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
			if a.srv.Healthy() != nil || !send() {
				return
			}
		}
	}
}
