package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/authhttp"
	"github.com/cp7/cp7/server/servertest"
)

// topicHook is a real net/http service deciding publish and subscribe:
// clients named "watch..." may do anything; topics under no/ are refused
// (403 for publish, a JSON deny for subscribe); topics under gate/ wait
// until the test opens the gate; topics under hang/ never get an answer
// (the hook's timeout decides); anything else is allowed.
type topicHook struct {
	*httptest.Server
	gate    chan struct{}
	once    sync.Once
	waiting atomic.Int64 // requests held at the gate now
	mu      sync.Mutex
	calls   map[string]int // "action clientid topic"
}

func newTopicHook(t *testing.T) *topicHook {
	h := &topicHook{gate: make(chan struct{}), calls: make(map[string]int)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		action, id, topic := fmt.Sprint(req["action"]), fmt.Sprint(req["clientid"]), fmt.Sprint(req["topic"])
		h.mu.Lock()
		h.calls[action+" "+id+" "+topic]++
		h.mu.Unlock()
		switch {
		case strings.HasPrefix(id, "watch"):
		case strings.HasPrefix(topic, "no/"):
			if action == "publish" {
				w.WriteHeader(http.StatusForbidden)
			} else {
				_, _ = w.Write([]byte(`{"result":"deny"}`))
			}
			return
		case strings.HasPrefix(topic, "gate/"):
			h.waiting.Add(1)
			defer h.waiting.Add(-1)
			select {
			case <-h.gate:
			case <-r.Context().Done():
				return
			}
		case strings.HasPrefix(topic, "hang/"):
			<-r.Context().Done()
			return
		}
		_, _ = w.Write([]byte(`{"result":"allow"}`))
	}))
	// Cleanups run last in, first out: the gate opens before the server
	// closes (and before the broker's Close, registered later).
	t.Cleanup(h.Close)
	t.Cleanup(h.open)
	return h
}

func (h *topicHook) open() { h.once.Do(func() { close(h.gate) }) }

func (h *topicHook) count(action, id, topic string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[action+" "+id+" "+topic]
}

// hookBroker starts a broker on ONE event loop whose ACL is the hook's
// publish/subscribe decisions (cached for a minute).
func hookBroker(t *testing.T, hs *topicHook, o authhttp.Options, configure func(*server.Config)) (*server.Server, *authhttp.Hook) {
	t.Helper()
	o.URL = hs.URL
	if o.CacheTTL == 0 {
		o.CacheTTL = time.Minute
	}
	h, err := authhttp.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, func(c *server.Config) {
		c.EventLoops = 1
		c.ACL = h.Authorizer()
		if configure != nil {
			configure(c)
		}
	})
	return srv, h
}

// warmHook is an HTTP hook that allows everything, with the decisions of
// the publish benchmark's clients ("pub" publishing sensors/42/temp, "sub0"
// subscribing to sensors/+/temp) already cached.
func warmHook(tb testing.TB) server.Authorizer {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"result":"allow"}`))
	}))
	tb.Cleanup(hs.Close)
	h, err := authhttp.New(authhttp.Options{URL: hs.URL, CacheTTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	if !h.Allow(authhttp.Publish, "pub", "", "sensors/42/temp") || !h.Allow(authhttp.Subscribe, "sub0", "", "sensors/+/temp") {
		tb.Fatal("the hook allows")
	}
	return h.Authorizer()
}

// TestHookTopicDecisionsV3: with paho v3 clients, an allowed publish is
// delivered, a refused one is acknowledged and dropped, a refused filter
// gets 0x80 and an allowed one its QoS; the second identical publish is
// answered from the decision cache (one hook call).
func TestHookTopicDecisionsV3(t *testing.T) {
	t.Parallel()
	hs := newTopicHook(t)
	srv, _ := hookBroker(t, hs, authhttp.Options{Timeout: wait}, nil)
	watcher := pahoConnect(t, pahoOpts(srv.Addr(), "watch-v3", true))
	all := newInbox()
	pahoSubscribe(t, watcher, "#", 1, all)

	sub := pahoConnect(t, pahoOpts(srv.Addr(), "sub-v3", true))
	okIn := newInbox()
	tok := sub.SubscribeMultiple(map[string]byte{"ok/#": 1, "no/#": 1}, okIn.handler)
	waitToken(t, tok, "subscribe")
	if res := tok.(*mqtt.SubscribeToken).Result(); res["ok/#"] != 1 || res["no/#"] != 0x80 {
		t.Fatalf("3.1.1 SUBACK codes %v, want ok/# 1, no/# 0x80", res)
	}

	pub := pahoConnect(t, pahoOpts(srv.Addr(), "pub-v3", true))
	pahoPublish(t, pub, "no/a", 1, false, "refused") // acknowledged, dropped
	pahoPublish(t, pub, "ok/a", 1, false, "1")
	all.expect(t, "ok/a", "1", 1) // the refused one never came first
	okIn.expect(t, "ok/a", "1", 1)
	pahoPublish(t, pub, "ok/a", 1, false, "2")
	all.expect(t, "ok/a", "2", 1)
	okIn.expect(t, "ok/a", "2", 1)
	if n := hs.count("publish", "pub-v3", "ok/a"); n != 1 {
		t.Fatalf("hook asked %d times about publish ok/a, want 1 (the second from the cache)", n)
	}
	if n := hs.count("publish", "pub-v3", "no/a"); n != 1 {
		t.Fatalf("hook asked %d times about publish no/a, want 1", n)
	}
	if s := srv.Stats(); s.DeniedPublish != 1 || s.DeniedSubscribe != 1 || s.TopicPending != 0 {
		t.Fatalf("stats: denied publish %d, subscribe %d, pending %d; want 1, 1, 0", s.DeniedPublish, s.DeniedSubscribe, s.TopicPending)
	}
}

// TestHookTopicDecisionsV5: a refused QoS 1 publish is answered with PUBACK
// 0x87 and a refused filter with 0x87, beside a granted one (paho.golang).
func TestHookTopicDecisionsV5(t *testing.T) {
	t.Parallel()
	hs := newTopicHook(t)
	srv, _ := hookBroker(t, hs, authhttp.Options{Timeout: wait}, nil)
	c, msgs := v5Paho(t, srv, "pub-v5")
	sa, err := c.Subscribe(v5Ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "no/#", QoS: 1}, {Topic: "ok/#", QoS: 1}}})
	if sa == nil {
		t.Fatal(err)
	}
	if want := []byte{byte(codec.NotAuthorized), 1}; string(sa.Reasons) != string(want) {
		t.Fatalf("v5 SUBACK reasons %x, want %x", sa.Reasons, want)
	}
	r, err := c.Publish(v5Ctx(t), &paho.Publish{Topic: "no/x", QoS: 1, Payload: []byte("x")})
	if r == nil || r.ReasonCode != byte(codec.NotAuthorized) {
		t.Fatalf("refused publish: response %+v (err %v), want PUBACK 0x87", r, err)
	}
	r, err = c.Publish(v5Ctx(t), &paho.Publish{Topic: "ok/x", QoS: 1, Payload: []byte("y")})
	if err != nil || r == nil || r.ReasonCode != 0 {
		t.Fatalf("allowed publish: response %+v (err %v)", r, err)
	}
	if m := v5PahoNext(t, msgs); m.Topic != "ok/x" || string(m.Payload) != "y" {
		t.Fatalf("got %s %q, want ok/x y", m.Topic, m.Payload)
	}
}

// TestHookSlowDoesNotStallTheLoop: on ONE event loop, a client whose
// publish waits for a slow hook answer (held at a gate) does not stop
// another client's messages; its own packets keep their order across the
// wait (A, a miss, then B: A is delivered before B); the wait outlasts its
// keepalive without a keepalive close.
func TestHookSlowDoesNotStallTheLoop(t *testing.T) {
	t.Parallel()
	hs := newTopicHook(t)
	srv, _ := hookBroker(t, hs, authhttp.Options{Timeout: time.Minute}, nil)
	watcher := servertest.DialConnect(t, srv.Addr(), "watch-slow", true, false)
	watcher.MustSubscribe(1, 0, "#")
	other := servertest.DialConnect(t, srv.Addr(), "other", true, false)
	other.PublishAcked("live/warm", "w", 1, false, 1) // cache its decision
	watcher.ExpectMessage("live/warm", "w", 0, false)

	slow := servertest.Dial(t, srv.Addr())
	slow.MustConnect(servertest.NewConnect("slow", true, 1), false) // keepalive 1 s
	// A (a cache miss held at the gate), then B and a PINGREQ in the same
	// write: B must wait behind A.
	b := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("gate/A"), Payload: []byte("A")}, codec.Version311)
	b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("live/B"), Payload: []byte("B")}, codec.Version311)
	b = codec.AppendPingreq(b)
	slow.Write(b)
	servertest.Eventually(t, wait, func() bool { return hs.waiting.Load() == 1 && srv.Stats().TopicPending == 1 },
		"the hook holds A's question")

	// The loop is free: the other client's stream flows while A waits.
	for i := range 20 {
		other.Publish("live/warm", fmt.Sprint(i), 0, false, 0)
	}
	for i := range 20 {
		watcher.ExpectMessage("live/warm", fmt.Sprint(i), 0, false)
	}
	// Past the slow client's keepalive (1.5 s): the wait is not silence.
	deadline := time.Now().Add(2 * time.Second)
	servertest.Eventually(t, wait, func() bool { return time.Now().After(deadline) }, "past the keepalive")
	if _, err := slow.ReadPacket(10e6); err != servertest.ErrTimeout {
		t.Fatalf("the waiting client got a packet (or error %v) before its answer", err)
	}
	if s := srv.Stats(); s.KeepAliveTimeouts != 0 || hs.waiting.Load() != 1 {
		t.Fatalf("keepalive timeouts %d, held questions %d: want 0 and 1", s.KeepAliveTimeouts, hs.waiting.Load())
	}

	hs.open()
	watcher.ExpectMessage("gate/A", "A", 0, false)
	watcher.ExpectMessage("live/B", "B", 0, false)
	slow.Expect(codec.PINGRESP)
	// The watcher's "#", other's live/warm (once: then cached), slow's gate/A and live/B.
	if s := srv.Stats(); s.TopicChecks != 4 || s.TopicPending != 0 {
		t.Fatalf("topic checks %d, pending %d: want 4 and 0", s.TopicChecks, s.TopicPending)
	}
}

// TestHookTimeoutFailPolicy: a hook that never answers is a failure once
// its timeout passes; fail closed (the default) refuses (v5 PUBACK 0x87),
// fail open allows (the message is delivered). Failures are not cached.
func TestHookTimeoutFailPolicy(t *testing.T) {
	t.Parallel()
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprintf("open=%v", open), func(t *testing.T) {
			t.Parallel()
			hs := newTopicHook(t)
			srv, h := hookBroker(t, hs, authhttp.Options{Timeout: 200 * time.Millisecond, FailOpen: open}, nil)
			watcher := servertest.DialConnect(t, srv.Addr(), "watch-to", true, false)
			watcher.MustSubscribe(1, 0, "#")
			c, _ := v5Paho(t, srv, "hanger")
			for i := range 2 {
				r, err := c.Publish(v5Ctx(t), &paho.Publish{Topic: "hang/x", QoS: 1, Payload: []byte(fmt.Sprint(i))})
				want := byte(codec.NotAuthorized)
				if open {
					want = 0
				}
				if r == nil || r.ReasonCode != want {
					t.Fatalf("publish %d: response %+v (err %v), want reason %#x", i, r, err, want)
				}
				if open {
					watcher.ExpectMessage("hang/x", fmt.Sprint(i), 0, false)
				}
			}
			if n := hs.count("publish", "hanger", "hang/x"); n != 2 || h.Failures() != 2 {
				t.Fatalf("hook asked %d times, %d failures: want 2 and 2 (failures are not cached)", n, h.Failures())
			}
			if !open {
				watcher.Ping() // nothing was delivered before the PINGRESP
			}
		})
	}
}

// TestHookQueueFullIsFailPolicy: with the one auth worker held and the
// queue full, the next question is answered by the fail policy at once
// (closed: PUBACK 0x87) and counted; the held ones get their answers when
// the hook does; a client closed while it waited is forgotten.
func TestHookQueueFullIsFailPolicy(t *testing.T) {
	t.Parallel()
	hs := newTopicHook(t)
	srv, _ := hookBroker(t, hs, authhttp.Options{Timeout: time.Minute}, func(c *server.Config) {
		c.AuthWorkers, c.AuthQueue = 1, 1
	})
	watcher := servertest.DialConnect(t, srv.Addr(), "watch-q", true, false)
	watcher.MustSubscribe(1, 0, "#")
	held := servertest.DialConnect(t, srv.Addr(), "held", true, false)
	held.Publish("gate/1", "1", 1, false, 1)
	servertest.Eventually(t, wait, func() bool { return hs.waiting.Load() == 1 }, "the worker is held")
	queued := servertest.DialConnect(t, srv.Addr(), "queued", true, false)
	queued.Publish("gate/2", "2", 1, false, 2)
	servertest.Eventually(t, wait, func() bool { return srv.Stats().TopicPending == 2 }, "one held, one queued")
	busy := v5Client(t, srv, "busy")
	if rc := v5Publish(t, busy, v5Msg{topic: "gate/3", payload: "3", qos: 1, pid: 3}); rc != codec.NotAuthorized {
		t.Fatalf("publish with the queue full: reason %v, want 0x87 (fail closed)", rc)
	}
	if s := srv.Stats(); s.TopicBusy != 1 {
		t.Fatalf("TopicBusy %d, want 1", s.TopicBusy)
	}
	queued.Close() // closed while its question waits in the queue
	hs.open()
	held.ExpectAck(codec.PUBACK, 1)
	watcher.ExpectMessage("gate/1", "1", 0, false)
	servertest.Eventually(t, wait, func() bool { return srv.Stats().TopicPending == 0 }, "every answer came back")
	healthy(t, held, watcher, "after/q", "ok")
}

// TestHookSlowOverServeConn: the same wait on the goroutine transport (TLS
// and WebSocket connections): A waits for its answer, B behind it, longer
// than the connect timeout that bounds a session attach; then A, B in order.
func TestHookSlowOverServeConn(t *testing.T) {
	t.Parallel()
	hs := newTopicHook(t)
	srv, _ := hookBroker(t, hs, authhttp.Options{Timeout: time.Minute}, func(c *server.Config) {
		c.ConnectTimeout = time.Second
	})
	addr := serveConnListener(t, srv)
	watcher := servertest.DialConnect(t, srv.Addr(), "watch-gc", true, false)
	watcher.MustSubscribe(1, 0, "#")
	slow := servertest.DialConnect(t, addr, "slow-gc", true, false)
	b := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("gate/A"), Payload: []byte("A")}, codec.Version311)
	b = codec.AppendPublish(b, &codec.Publish{Topic: []byte("live/B"), Payload: []byte("B")}, codec.Version311)
	b = codec.AppendPingreq(b)
	slow.Write(b)
	servertest.Eventually(t, wait, func() bool { return hs.waiting.Load() == 1 }, "the hook holds A's question")
	deadline := time.Now().Add(2 * time.Second) // past the 1 s connect timeout
	servertest.Eventually(t, wait, func() bool { return time.Now().After(deadline) }, "past the connect timeout")
	if _, err := slow.ReadPacket(10e6); err != servertest.ErrTimeout {
		t.Fatalf("the waiting client got a packet (or error %v) before its answer", err)
	}
	hs.open()
	watcher.ExpectMessage("gate/A", "A", 0, false)
	watcher.ExpectMessage("live/B", "B", 0, false)
	slow.Expect(codec.PINGRESP)
}

// TestHookWillAskedAtConnect: a will's topic is asked at CONNECT like a
// PUBLISH (Mosquitto checks the will's write permission too): an allowed
// will the hook had not cached is sent when the connection is lost, a
// refused one is not, and one whose answer is still pending when the
// connection ends is decided by the fail policy (closed: dropped), never
// sent unchecked.
func TestHookWillAskedAtConnect(t *testing.T) {
	t.Parallel()
	hs := newTopicHook(t)
	srv, _ := hookBroker(t, hs, authhttp.Options{Timeout: time.Minute}, nil)
	watcher := servertest.DialConnect(t, srv.Addr(), "watch-will", true, false)
	watcher.MustSubscribe(1, 0, "#")
	fence := servertest.DialConnect(t, srv.Addr(), "fence", true, false)
	fence.PublishAcked("fence/warm", "w", 1, false, 1)
	watcher.ExpectMessage("fence/warm", "w", 0, false)

	ok := servertest.Dial(t, srv.Addr())
	ok.MustConnect(servertest.WithWill(servertest.NewConnect("will-ok", true, 30), "will/ok", "bye", 0, false), false)
	ok.Ping() // handled once the will's answer came back
	ok.Close()
	watcher.ExpectMessage("will/ok", "bye", 0, false)

	no := servertest.Dial(t, srv.Addr())
	no.MustConnect(servertest.WithWill(servertest.NewConnect("will-no", true, 30), "no/will", "bye", 0, false), false)
	no.Ping()
	no.Close()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().DeniedPublish == 1 }, "the refused will is dropped")

	held := servertest.Dial(t, srv.Addr())
	held.MustConnect(servertest.WithWill(servertest.NewConnect("will-held", true, 30), "gate/will", "bye", 0, false), false)
	servertest.Eventually(t, wait, func() bool { return hs.waiting.Load() == 1 }, "the will's question is held")
	held.Close()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().DeniedPublish == 2 }, "undecided at the close: fail closed drops it")
	hs.open()
	servertest.Eventually(t, wait, func() bool { return srv.Stats().TopicPending == 0 }, "the late answer is ignored")
	fence.PublishAcked("fence/end", "e", 1, false, 2)
	watcher.ExpectMessage("fence/end", "e", 0, false) // no will came before it
}
