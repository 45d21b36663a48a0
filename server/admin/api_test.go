package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/admin"
	"github.com/cp7/cp7/server/servertest"
)

const wait = servertest.Timeout

// adminBroker is a broker with its admin listener on a free loopback port.
type adminBroker struct {
	srv   *server.Server
	base  string
	token string
	hc    *http.Client
}

func startAdmin(t *testing.T, token string) *adminBroker {
	t.Helper()
	srv := servertest.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := admin.ListenAndServe(ctx, "127.0.0.1:0", admin.New(srv, admin.Options{Token: token, Pprof: true}), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &adminBroker{srv: srv, base: "http://" + addr.String(), token: token, hc: &http.Client{Timeout: wait}}
}

// do sends a request and returns the status and body.
func (a *adminBroker) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// getJSON GETs path, wants 200 and decodes into v.
func (a *adminBroker) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	code, b := a.do(t, http.MethodGet, path, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// wantError checks a JSON error answer.
func wantError(t *testing.T, code int, b []byte, wantCode int, substr string) {
	t.Helper()
	var e admin.Error
	if code != wantCode || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, substr) {
		t.Fatalf("got %d %s, want %d with a JSON error containing %q", code, b, wantCode, substr)
	}
}

// TestMetricsMatchAKnownWorkload scrapes /metrics after a fixed workload,
// parses it with Prometheus's own parser and checks the values.
func TestMetricsMatchAKnownWorkload(t *testing.T) {
	a := startAdmin(t, "")
	sub := servertest.DialConnect(t, a.srv.Addr(), "sub", true, false)
	sub.MustSubscribe(1, 1, "w/#")
	pub := servertest.Dial(t, a.srv.Addr())
	cp := servertest.NewConnect("pub", true, 60)
	cp.ProtocolVersion = codec.Version5
	pub.MustConnect(cp, false)
	for i := range 4 {
		pub.Publish("w/0", "zero", 0, false, 0)
		pub.PublishAcked("w/1", "one", 1, false, uint16(i+1))
	}
	pub.PublishAcked("w/r", "retained", 1, true, 9)
	for range 4 {
		sub.ExpectMessage("w/0", "zero", 0, false)
		p := sub.ExpectMessage("w/1", "one", 1, false)
		sub.SendAck(codec.PUBACK, p.PacketID)
	}
	p := sub.ExpectMessage("w/r", "retained", 1, false)
	sub.SendAck(codec.PUBACK, p.PacketID)
	sub.Ping()

	var fams map[string]*dto.MetricFamily
	scrape := func() {
		code, body := a.do(t, http.MethodGet, "/metrics", "")
		if code != 200 {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		var err error
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err = parser.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v\n%s", err, body)
		}
	}
	val := func(name string, labels ...string) float64 {
		f := fams[name]
		if f == nil {
			t.Fatalf("no family %s", name)
		}
	next:
		for _, m := range f.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.Label {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
		t.Fatalf("no sample %s%v", name, labels)
		return 0
	}
	servertest.Eventually(t, wait, func() bool {
		scrape()
		return val("cp7_deliveries_acknowledged_total") == 5 && val("cp7_messages_sent_total", "qos", "1") == 5
	}, "5 acknowledged deliveries in /metrics")
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cp7_messages_received_total", []string{"qos", "0"}, 4},
		{"cp7_messages_received_total", []string{"qos", "1"}, 5},
		{"cp7_messages_received_total", []string{"qos", "2"}, 0},
		{"cp7_messages_sent_total", []string{"qos", "0"}, 4},
		{"cp7_messages_sent_total", []string{"qos", "1"}, 5},
		// v5 QoS 0 "w/0" + "zero": 2 + (2+3) + 1 + 4 = 12 bytes
		{"cp7_publish_received_bytes_total", []string{"qos", "0"}, 4 * 12},
		// 3.1.1 delivery of it: 11 bytes
		{"cp7_publish_sent_bytes_total", []string{"qos", "0"}, 4 * 11},
		{"cp7_connections", []string{"listener", "tcp", "protocol", "3.1.1"}, 1},
		{"cp7_connections", []string{"listener", "tcp", "protocol", "5.0"}, 1},
		{"cp7_connections_open", nil, 2},
		{"cp7_connects_total", nil, 2},
		{"cp7_retained_messages", nil, 1},
		{"cp7_subscriptions", nil, 1},
		{"cp7_sessions", []string{"state", "online"}, 2},
		{"cp7_sessions", []string{"state", "offline"}, 0},
		{"cp7_inflight_messages", nil, 0},
		{"cp7_messages_dropped_total", []string{"reason", "offline"}, 0},
	}
	for _, c := range checks {
		if got := val(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_gc_cycles_total", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "cp7_loop_backlog_tasks"} {
		if fams[name] == nil {
			t.Errorf("no %s in /metrics", name)
		}
	}
	// A client ends without DISCONNECT: counted by reason.
	sub.Close()
	servertest.Eventually(t, wait, func() bool {
		scrape()
		return val("cp7_disconnects_total", "reason", "connection_lost") == 1 && val("cp7_connections_open") == 1
	}, "the lost connection in /metrics")
}

// TestPromtoolCheckMetrics runs `promtool check metrics` over a real scrape:
// Prometheus's own linter must report nothing.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool missing: scripts/install-deps.sh installs the prometheus package")
		}
		t.Skip("promtool missing (Debian package prometheus; scripts/install-deps.sh)")
	}
	a := startAdmin(t, "")
	c := servertest.DialConnect(t, a.srv.Addr(), "c", true, false)
	c.MustSubscribe(1, 0, "x")
	c.Publish("x", "y", 0, false, 0)
	c.ExpectMessage("x", "y", 0, false)
	_, body := a.do(t, http.MethodGet, "/metrics", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestAdminEndpoints exercises every /api/v1 endpoint with a real HTTP
// client, against real MQTT clients.
func TestAdminEndpoints(t *testing.T) {
	a := startAdmin(t, "")
	var conns []*servertest.Conn
	for i := range 5 {
		c := servertest.Dial(t, a.srv.Addr())
		p := servertest.NewConnect(fmt.Sprintf("dev-%d", i), true, 30)
		if i == 0 {
			p.UsernameFlag, p.Username = true, []byte("alice")
		}
		c.MustConnect(p, false)
		c.MustSubscribe(1, 1, fmt.Sprintf("dev/%d/cmd", i))
		conns = append(conns, c)
	}
	other := servertest.DialConnect(t, a.srv.Addr(), "other", true, false)

	// Paging: limit 2 over the 5 "dev-" clients, following next.
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		var page server.ClientPage
		a.getJSON(t, "/api/v1/clients?limit=2&prefix=dev-&cursor="+url.QueryEscape(cursor), &page)
		if len(page.Clients) > 2 || page.Total != 6 {
			t.Fatalf("page of %d clients, total %d: want at most 2 and total 6", len(page.Clients), page.Total)
		}
		for _, c := range page.Clients {
			if seen[c.ID] || !strings.HasPrefix(c.ID, "dev-") || !c.Connected || c.Protocol != "3.1.1" || c.Listener != "tcp" {
				t.Fatalf("page client %+v: want each dev- client once, connected over tcp, 3.1.1", c)
			}
			seen[c.ID] = true
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paging found %d dev- clients, want 5", len(seen))
	}
	var byUser server.ClientPage
	a.getJSON(t, "/api/v1/clients?username=alice", &byUser)
	if len(byUser.Clients) != 1 || byUser.Clients[0].ID != "dev-0" || byUser.Clients[0].Username != "alice" {
		t.Fatalf("username=alice: %+v, want dev-0 only", byUser.Clients)
	}
	var byAddr server.ClientPage
	a.getJSON(t, "/api/v1/clients?address=127.0.0.1:&limit=1000", &byAddr)
	if len(byAddr.Clients) != 6 {
		t.Fatalf("address=127.0.0.1: found %d, want 6", len(byAddr.Clients))
	}

	// One client's details.
	var ci server.ClientInfo
	a.getJSON(t, "/api/v1/clients/dev-3", &ci)
	if ci.ID != "dev-3" || !ci.Connected || ci.KeepAlive != 30 || len(ci.Subs) != 1 || ci.Subs[0].Filter != "dev/3/cmd" ||
		ci.Subs[0].QoS != 1 || ci.ConnectedSince.IsZero() || !strings.HasPrefix(ci.Address, "127.0.0.1:") {
		t.Fatalf("client dev-3: %+v", ci)
	}
	code, b := a.do(t, http.MethodGet, "/api/v1/clients/nobody", "")
	wantError(t, code, b, 404, "not found")

	// Subscriptions, paged by client.
	var subs struct {
		Subscriptions []server.SubInfo `json:"subscriptions"`
	}
	a.getJSON(t, "/api/v1/subscriptions?prefix=dev-&limit=1000", &subs)
	if len(subs.Subscriptions) != 5 {
		t.Fatalf("subscriptions: %+v, want 5", subs.Subscriptions)
	}

	// Publish over HTTP reaches the subscriber.
	code, b = a.do(t, http.MethodPost, "/api/v1/publish", `{"topic":"dev/2/cmd","payload":"reboot","qos":1}`)
	if code != 200 {
		t.Fatalf("publish: %d %s", code, b)
	}
	p := conns[2].ExpectMessage("dev/2/cmd", "reboot", 1, false)
	conns[2].SendAck(codec.PUBACK, p.PacketID)
	code, b = a.do(t, http.MethodPost, "/api/v1/publish", `{"topic":"a/+","payload":"x"}`)
	wantError(t, code, b, 400, "not a topic name")
	code, b = a.do(t, http.MethodPost, "/api/v1/publish", `{"topic":"a","nonsense":1}`)
	wantError(t, code, b, 400, "publish body")

	// Retained: publish two over HTTP, list, delete one.
	for _, tp := range []string{"cfg/b", "cfg/a"} {
		if code, b := a.do(t, http.MethodPost, "/api/v1/publish", `{"topic":"`+tp+`","payload":"v","retain":true}`); code != 200 {
			t.Fatalf("retained publish: %d %s", code, b)
		}
	}
	var ret struct {
		Retained []server.RetainedInfo `json:"retained"`
		Next     string                `json:"next"`
	}
	a.getJSON(t, "/api/v1/topics/retained?limit=1", &ret)
	if len(ret.Retained) != 1 || ret.Retained[0].Topic != "cfg/a" || ret.Next != "cfg/a" {
		t.Fatalf("retained page 1: %+v", ret)
	}
	a.getJSON(t, "/api/v1/topics/retained?limit=1&cursor=cfg/a", &ret)
	if len(ret.Retained) != 1 || ret.Retained[0].Topic != "cfg/b" || ret.Retained[0].Payload != "v" {
		t.Fatalf("retained page 2: %+v", ret)
	}
	if code, b := a.do(t, http.MethodDelete, "/api/v1/topics/retained?topic=cfg/a", ""); code != 200 {
		t.Fatalf("delete retained: %d %s", code, b)
	}
	if code, b := a.do(t, http.MethodDelete, "/api/v1/topics/retained/cfg/b", ""); code != 200 {
		t.Fatalf("delete retained by path: %d %s", code, b)
	}
	code, b = a.do(t, http.MethodDelete, "/api/v1/topics/retained?topic=cfg/a", "")
	wantError(t, code, b, 404, "no retained message")
	if n := a.srv.Metrics().Retained; n != 0 {
		t.Fatalf("%d retained after the deletes, want 0", n)
	}

	// Stats.
	var st admin.Stats
	a.getJSON(t, "/api/v1/stats", &st)
	if st.ConnectedTotal != 6 || st.Subscriptions != 5 || st.Version == "" {
		t.Fatalf("stats: connected %d subscriptions %d version %q", st.ConnectedTotal, st.Subscriptions, st.Version)
	}

	// Kick: the 3.1.1 client is closed; a v5 client gets DISCONNECT 0x98.
	if code, b := a.do(t, http.MethodDelete, "/api/v1/clients/other", ""); code != 200 {
		t.Fatalf("kick: %d %s", code, b)
	}
	if !other.Closed(wait) {
		t.Fatal("kicked 3.1.1 client still connected")
	}
	v5 := servertest.Dial(t, a.srv.Addr())
	cp := servertest.NewConnect("v5", true, 0)
	cp.ProtocolVersion = codec.Version5
	v5.MustConnect(cp, false)
	if code, b := a.do(t, http.MethodDelete, "/api/v1/clients/v5", ""); code != 200 {
		t.Fatalf("kick v5: %d %s", code, b)
	}
	pk := v5.Expect(codec.DISCONNECT)
	var d codec.Disconnect
	if err := d.Decode(pk.Body(), codec.Version5); err != nil || d.ReasonCode != codec.AdministrativeAction {
		t.Fatalf("kicked v5 client got DISCONNECT %v (%v), want 0x98", d.ReasonCode, err)
	}
	code, b = a.do(t, http.MethodDelete, "/api/v1/clients/v5", "")
	wantError(t, code, b, 404, "no connected client")
	servertest.Eventually(t, wait, func() bool { return a.srv.Metrics().Disconnects["kicked"] == 2 }, "2 kicks counted")

	// Errors are JSON with a message.
	code, b = a.do(t, http.MethodGet, "/api/v1/clients?limit=0", "")
	wantError(t, code, b, 400, "limit")
	code, b = a.do(t, http.MethodGet, "/api/v1/clients?cursor=zz", "")
	wantError(t, code, b, 400, "cursor")
	code, b = a.do(t, http.MethodGet, "/api/v1/nothing", "")
	wantError(t, code, b, 404, "no endpoint")

	// Health, readiness, pprof, dashboard.
	if code, _ := a.do(t, http.MethodGet, "/healthz", ""); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	if code, _ := a.do(t, http.MethodGet, "/readyz", ""); code != 200 {
		t.Fatalf("/readyz: %d", code)
	}
	a.srv.HoldReady("store", "recovering")
	if code, b := a.do(t, http.MethodGet, "/readyz", ""); code != 503 || !strings.Contains(string(b), "recovering") {
		t.Fatalf("/readyz while held: %d %s", code, b)
	}
	a.srv.ReleaseReady("store")
	if code, _ := a.do(t, http.MethodGet, "/readyz", ""); code != 200 {
		t.Fatalf("/readyz after release: %d", code)
	}
	if code, b := a.do(t, http.MethodGet, "/debug/pprof/", ""); code != 200 || !strings.Contains(string(b), "goroutine") {
		t.Fatalf("/debug/pprof/: %d", code)
	}
	if code, b := a.do(t, http.MethodGet, "/", ""); code != 200 || !strings.Contains(string(b), "chart-rates") {
		t.Fatalf("dashboard: %d", code)
	}
}

// TestAdminToken: with a token, everything but /healthz and /readyz wants
// it; the dashboard takes it once from ?token= and keeps it in a cookie.
// A single node has no cluster to show, and says how to make one.
func TestClusterEndpointOnASingleNode(t *testing.T) {
	a := startAdmin(t, "")
	code, body := a.do(t, http.MethodGet, "/api/v1/cluster", "")
	wantError(t, code, body, http.StatusNotFound, "not in a cluster")
}

func TestAdminToken(t *testing.T) {
	a := startAdmin(t, "s3cret")
	anon := &adminBroker{srv: a.srv, base: a.base, hc: a.hc}
	for _, p := range []string{"/metrics", "/api/v1/stats", "/api/v1/clients", "/", "/debug/pprof/"} {
		code, b := anon.do(t, http.MethodGet, p, "")
		wantError(t, code, b, 401, "token")
	}
	wrong := &adminBroker{srv: a.srv, base: a.base, hc: a.hc, token: "guess"}
	code, b := wrong.do(t, http.MethodGet, "/metrics", "")
	wantError(t, code, b, 401, "token")
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := anon.do(t, http.MethodGet, p, ""); code != 200 {
			t.Fatalf("%s without token: %d, want 200", p, code)
		}
	}
	if code, _ := a.do(t, http.MethodGet, "/metrics", ""); code != 200 {
		t.Fatalf("/metrics with the token: %d", code)
	}
	res, err := a.hc.Get(a.base + "/?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "cp7_admin_token" {
			cookie = c
		}
	}
	if res.StatusCode != 200 || cookie == nil || !cookie.HttpOnly {
		t.Fatalf("/?token=: %d, cookie %v", res.StatusCode, cookie)
	}
	req, _ := http.NewRequest(http.MethodGet, a.base+"/api/v1/stats", nil)
	req.AddCookie(cookie)
	res, err = a.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stats with the cookie: %d", res.StatusCode)
	}
}

// TestEventsStream reads two Server-Sent Events and sees a connection
// arrive between them.
func TestEventsStream(t *testing.T) {
	a := startAdmin(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v1/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	next := func() admin.Event {
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e admin.Event
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("event %q: %v", line, err)
				}
				return e
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return admin.Event{}
	}
	if e := next(); e.Connected != 0 {
		t.Fatalf("first event: %d connected, want 0", e.Connected)
	}
	servertest.DialConnect(t, a.srv.Addr(), "late", true, false)
	for range 20 {
		if next().Connected == 1 {
			return
		}
	}
	t.Fatal("no event showed the new connection")
}

// BenchmarkMetricsScrape is one /metrics answer (snapshot, runtime figures,
// text format), without the network.
func BenchmarkMetricsScrape(b *testing.B) {
	srv := servertest.StartSilent(b, nil)
	h := admin.New(srv, admin.Options{})
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, req)
		b.SetBytes(int64(w.n))
	}
}

type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discard) WriteHeader(int)             {}
