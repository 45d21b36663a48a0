package admin

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cp7/cp7/server"
)

// Options configure the admin handler.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer TOKEN" (or
	// the cp7_admin_token cookie the dashboard sets from ?token=) on every
	// endpoint but /healthz and /readyz.
	Token string
	// Pprof mounts /debug/pprof/ (cmd/cp7 does unless -pprof serves it
	// elsewhere).
	Pprof bool
	// Log receives request errors; nil discards.
	Log *slog.Logger
	// Timeout bounds how long a request waits for the event loops (reads
	// of session state run as tasks on their owner loops); 0 means 5s.
	Timeout time.Duration
	// Cluster, when set, answers GET /api/v1/cluster with this node's view
	// of the cluster (members, bus counters); nil means a single node.
	Cluster func() any
}

// api is the admin HTTP API over one broker.
type api struct {
	srv   *server.Server
	o     Options
	start time.Time
}

// New returns the admin handler for srv: health and readiness, Prometheus
// metrics, the JSON API under /api/v1/, the dashboard at / and (with
// o.Pprof) /debug/pprof/. It never runs on an event loop: every read of a
// session's state is a task posted to its owner loop.
func New(srv *server.Server, o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	a := &api{srv: srv, o: o, start: time.Now()}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", Handler(srv.Healthy))
	mux.Handle("HEAD /healthz", Handler(srv.Healthy))
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /metrics", a.auth(a.metrics))
	mux.HandleFunc("GET /api/v1/stats", a.auth(a.stats))
	mux.HandleFunc("GET /api/v1/clients", a.auth(a.clients))
	mux.HandleFunc("GET /api/v1/clients/{id}", a.auth(a.client))
	mux.HandleFunc("DELETE /api/v1/clients/{id}", a.auth(a.kick))
	mux.HandleFunc("GET /api/v1/subscriptions", a.auth(a.subscriptions))
	mux.HandleFunc("GET /api/v1/topics/retained", a.auth(a.retained))
	mux.HandleFunc("DELETE /api/v1/topics/retained", a.auth(a.deleteRetained))
	mux.HandleFunc("DELETE /api/v1/topics/retained/{topic...}", a.auth(a.deleteRetained))
	mux.HandleFunc("GET /api/v1/topics/busiest", a.auth(a.busiest))
	mux.HandleFunc("POST /api/v1/publish", a.auth(a.publish))
	mux.HandleFunc("GET /api/v1/events", a.auth(a.events))
	mux.HandleFunc("GET /api/v1/cluster", a.auth(a.cluster))
	mux.HandleFunc("GET /{$}", a.auth(a.dashboard))
	mux.HandleFunc("/api/", a.auth(func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotFound, fmt.Sprintf("admin: no endpoint %s %s; see /api/v1/stats, /api/v1/cluster, /api/v1/clients, /api/v1/subscriptions, /api/v1/topics/retained, /api/v1/publish", r.Method, r.URL.Path))
	}))
	if o.Pprof {
		mux.HandleFunc("/debug/pprof/", a.auth(pprof.Index))
		mux.HandleFunc("/debug/pprof/cmdline", a.auth(pprof.Cmdline))
		mux.HandleFunc("/debug/pprof/profile", a.auth(pprof.Profile))
		mux.HandleFunc("/debug/pprof/symbol", a.auth(pprof.Symbol))
		mux.HandleFunc("/debug/pprof/trace", a.auth(pprof.Trace))
	}
	return mux
}

// tokenCookie carries the token for the dashboard's own requests
// (EventSource cannot send an Authorization header).
const tokenCookie = "cp7_admin_token"

// auth checks the bearer token when one is configured.
func (a *api) auth(h http.HandlerFunc) http.HandlerFunc {
	if a.o.Token == "" {
		return h
	}
	want := []byte(a.o.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		got := ""
		if v := r.Header.Get("Authorization"); strings.HasPrefix(v, "Bearer ") {
			got = strings.TrimPrefix(v, "Bearer ")
		} else if c, err := r.Cookie(tokenCookie); err == nil {
			got = c.Value
		} else if q := r.URL.Query().Get("token"); q != "" && r.URL.Path == "/" {
			got = q
			if subtle.ConstantTimeCompare([]byte(got), want) == 1 {
				http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			}
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cp7"`)
			jsonError(w, http.StatusUnauthorized, "admin: missing or wrong token: send Authorization: Bearer <the -admin-token value> (the dashboard: open /?token=<token>)")
			return
		}
		h(w, r)
	}
}

func (a *api) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.o.Timeout)
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := a.srv.Ready(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
}

func (a *api) metrics(w http.ResponseWriter, r *http.Request) {
	m := a.srv.Metrics()
	fams := m.Families()
	fams = append(fams, server.Family{Name: "cp7_build_info", Help: "The broker's version.", Type: "gauge",
		Samples: []server.Sample{{Labels: []string{"version", m.Version}, Value: 1}}})
	fams = append(fams, runtimeFamilies(a.start)...)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := writeMetrics(w, fams); err != nil {
		a.o.Log.Debug("admin: writing /metrics", "err", err)
	}
}

// Stats is the body of GET /api/v1/stats: the metrics snapshot and the
// busiest topics.
type Stats struct {
	server.Metrics
	Busiest []server.TopicRate `json:"busiest_topics"`
}

func (a *api) cluster(w http.ResponseWriter, r *http.Request) {
	if a.o.Cluster == nil {
		jsonError(w, http.StatusNotFound, "admin: this node is not in a cluster (start it with -cluster-listen, -cluster-routes or -nats-url)")
		return
	}
	v := a.o.Cluster()
	if v == nil {
		jsonError(w, http.StatusServiceUnavailable, "admin: this node has not joined its cluster yet; try again shortly")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Stats{Metrics: a.srv.Metrics(), Busiest: a.srv.BusiestTopics(10)})
}

func query(r *http.Request) (server.ClientQuery, error) {
	q := r.URL.Query()
	cq := server.ClientQuery{IDPrefix: q.Get("prefix"), Username: q.Get("username"), Address: q.Get("address"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return cq, fmt.Errorf("admin: limit %q: use 1 to 1000", s)
		}
		cq.Limit = n
	}
	return cq, nil
}

func (a *api) clients(w http.ResponseWriter, r *http.Request) {
	cq, err := query(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	page, err := a.srv.Clients(ctx, cq)
	if err != nil {
		a.fail(w, err)
		return
	}
	if page.Clients == nil {
		page.Clients = []server.ClientInfo{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) client(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	ci, err := a.srv.Client(ctx, r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ci)
}

func (a *api) kick(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	id := r.PathValue("id")
	if err := a.srv.Kick(ctx, id); err != nil {
		if errors.Is(err, server.ErrNotFound) {
			jsonError(w, http.StatusNotFound, fmt.Sprintf("admin: no connected client %q", id))
			return
		}
		a.fail(w, err)
		return
	}
	a.o.Log.Info("admin: client kicked", "client_id", id, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"kicked": id})
}

func (a *api) subscriptions(w http.ResponseWriter, r *http.Request) {
	cq, err := query(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	subs, next, err := a.srv.Subscriptions(ctx, cq)
	if err != nil {
		a.fail(w, err)
		return
	}
	if subs == nil {
		subs = []server.SubInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": subs, "next": next})
}

func (a *api) retained(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			jsonError(w, http.StatusBadRequest, fmt.Sprintf("admin: limit %q: use 1 to 1000", s))
			return
		}
		limit = n
	}
	list, next := a.srv.Retained(q.Get("filter"), q.Get("cursor"), limit)
	writeJSON(w, http.StatusOK, map[string]any{"retained": list, "next": next})
}

func (a *api) deleteRetained(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	if topic == "" {
		topic = r.PathValue("topic")
	}
	if topic == "" {
		jsonError(w, http.StatusBadRequest, "admin: name the topic: DELETE /api/v1/topics/retained?topic=a/b")
		return
	}
	if err := a.srv.DeleteRetained(topic); err != nil {
		jsonError(w, http.StatusNotFound, fmt.Sprintf("admin: no retained message on %q", topic))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": topic})
}

func (a *api) busiest(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.srv.BusiestTopics(20))
}

// PublishRequest is the body of POST /api/v1/publish. Payload is text;
// PayloadBase64, when set, is used instead for binary payloads.
type PublishRequest struct {
	Topic         string `json:"topic"`
	Payload       string `json:"payload"`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	QoS           byte   `json:"qos"`
	Retain        bool   `json:"retain"`
}

func (a *api) publish(w http.ResponseWriter, r *http.Request) {
	var p PublishRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		jsonError(w, http.StatusBadRequest, "admin: publish body: "+err.Error()+`; want {"topic":"a/b","payload":"text","qos":0,"retain":false}`)
		return
	}
	payload := []byte(p.Payload)
	if p.PayloadBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(p.PayloadBase64)
		if err != nil {
			jsonError(w, http.StatusBadRequest, "admin: payload_base64: "+err.Error())
			return
		}
		payload = b
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	if err := a.srv.Publish(ctx, p.Topic, payload, p.QoS, p.Retain); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"published": p.Topic, "bytes": len(payload)})
}

func (a *api) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, server.ErrNotFound):
		jsonError(w, http.StatusNotFound, "admin: not found")
	case errors.Is(err, context.DeadlineExceeded):
		jsonError(w, http.StatusServiceUnavailable, err.Error())
	default:
		jsonError(w, http.StatusBadRequest, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, Error{Error: msg})
}

// IsLoopback reports whether addr ("host:port") binds only loopback
// addresses; the admin API needs a token otherwise.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
