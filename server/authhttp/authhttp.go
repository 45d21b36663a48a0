// Package authhttp asks an HTTP service who may connect, publish and
// subscribe (-auth-http-url). Each decision is one POST of a JSON object:
//
//	{"action":"connect","clientid":"...","username":"...","password":"...",
//	 "remote":"ip","protocol":4,"cn":"..."}
//	{"action":"publish"|"subscribe","clientid":"...","username":"...","topic":"..."}
//
// The service answers:
//
//	200 {"result":"allow"}     allowed; for connect also optional "user",
//	                           "publish" and "subscribe" (topic filters, see
//	                           server.ClientRules)
//	200 {"result":"deny"}      refused
//	200 {"result":"ignore"}    not this service's user: the next method decides
//	204, or 200 with no body   allowed
//	401, 403                   refused
//	anything else, or no answer within the timeout: a failure, decided by
//	the fail policy (FailClosed refuses, FailOpen allows).
//
// Decisions (not failures) are cached for a TTL, keyed by an HMAC of the
// request (so the cache holds no password); connections are kept alive.
// Hook is safe for concurrent use. Its calls block up to the timeout: the
// broker calls Check on its auth workers; Allow is for callers that may
// block, Cached for event loops (see Allow).
package authhttp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/auth"
)

// Action is what a decision is about.
type Action string

const (
	Connect   Action = "connect"
	Publish   Action = "publish"
	Subscribe Action = "subscribe"
)

// Options configure a Hook.
type Options struct {
	URL      string
	Timeout  time.Duration // per request; 0 means 2 s
	CacheTTL time.Duration // 0 means no cache
	// CacheMax bounds the cached decisions; 0 means 100,000.
	CacheMax int
	FailOpen bool // on failure allow instead of refuse
	// Client replaces the default keep-alive client (tests).
	Client *http.Client
}

// Hook is the HTTP hook.
type Hook struct {
	opt    Options
	client *http.Client
	secret []byte

	mu    sync.RWMutex
	cache map[[32]byte]entry

	calls, failures atomic.Uint64
}

type entry struct {
	res     response
	expires int64
}

// response is the service's answer.
type response struct {
	Result    string   `json:"result"`
	User      string   `json:"user,omitempty"`
	Publish   []string `json:"publish,omitempty"`
	Subscribe []string `json:"subscribe,omitempty"`
}

// New checks the options and makes a Hook.
func New(o Options) (*Hook, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("authhttp: URL %q is not an http:// or https:// URL", o.URL)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.CacheMax <= 0 {
		o.CacheMax = 100_000
	}
	h := &Hook{opt: o, cache: make(map[[32]byte]entry), secret: make([]byte, 32)}
	_, _ = rand.Read(h.secret)
	h.client = o.Client
	if h.client == nil {
		h.client = &http.Client{Timeout: o.Timeout, Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256, // the auth workers share one service: keep their connections
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	return h, nil
}

// Calls is the number of requests sent; Failures how many failed.
func (h *Hook) Calls() uint64    { return h.calls.Load() }
func (h *Hook) Failures() uint64 { return h.failures.Load() }

// Name implements auth.Method.
func (h *Hook) Name() string { return "http" }

// Check implements auth.Method for CONNECT.
func (h *Hook) Check(info *server.ConnInfo) auth.Result {
	req := map[string]any{
		"action": Connect, "clientid": info.ClientID, "username": string(info.Username),
		"password": string(info.Password), "protocol": info.Version,
	}
	if info.Remote != nil {
		// The address without the port, so a reconnect can hit the cache.
		if host, _, err := net.SplitHostPort(info.Remote.String()); err == nil {
			req["remote"] = host
		}
	}
	if info.CommonName != "" {
		req["cn"] = info.CommonName
	}
	res, err := h.decide(req)
	if err != nil {
		if h.opt.FailOpen {
			return auth.Result{Decision: auth.Allow}
		}
		return auth.Result{Decision: auth.Deny, Reason: codec.ServerUnavailable}
	}
	switch res.Result {
	case "allow":
		r := auth.Result{Decision: auth.Allow, User: res.User}
		if res.Publish != nil || res.Subscribe != nil {
			r.Rules = &server.ClientRules{Publish: res.Publish, Subscribe: res.Subscribe}
		}
		return r
	case "ignore":
		return auth.Result{}
	}
	return auth.Result{Decision: auth.Deny, Reason: codec.NotAuthorized}
}

// Allow asks whether the client may publish to topic or subscribe to a
// filter (action Publish or Subscribe). It blocks up to the timeout on a
// cache miss: call it where blocking is allowed (an auth worker), and on an
// event loop use Cached first.
func (h *Hook) Allow(a Action, clientID, username, topic string) bool {
	res, err := h.decide(map[string]any{"action": a, "clientid": clientID, "username": username, "topic": topic})
	if err != nil {
		return h.opt.FailOpen
	}
	return res.Result == "allow"
}

// Cached returns a cached decision without blocking: known is false when
// there is none (or it expired).
func (h *Hook) Cached(a Action, clientID, username, topic string) (allow, known bool) {
	k, _, err := h.key(map[string]any{"action": a, "clientid": clientID, "username": username, "topic": topic})
	if err != nil {
		return false, false
	}
	res, ok := h.lookup(k)
	return ok && res.Result == "allow", ok
}

// Invalidate forgets every cached decision.
func (h *Hook) Invalidate() {
	h.mu.Lock()
	h.cache = make(map[[32]byte]entry)
	h.mu.Unlock()
}

func (h *Hook) key(req map[string]any) ([32]byte, []byte, error) {
	body, err := json.Marshal(req) // map keys are sorted: the same request, the same bytes
	if err != nil {
		return [32]byte{}, nil, err
	}
	m := hmac.New(sha256.New, h.secret)
	m.Write(body)
	var k [32]byte
	m.Sum(k[:0])
	return k, body, nil
}

func (h *Hook) lookup(k [32]byte) (response, bool) {
	h.mu.RLock()
	e, ok := h.cache[k]
	h.mu.RUnlock()
	if !ok || time.Now().UnixNano() > e.expires {
		return response{}, false
	}
	return e.res, true
}

// errFailed is a request that got no decision.
var errFailed = errors.New("authhttp: no decision")

func (h *Hook) decide(req map[string]any) (response, error) {
	k, body, err := h.key(req)
	if err != nil {
		return response{}, err
	}
	if res, ok := h.lookup(k); ok {
		return res, nil
	}
	res, err := h.post(body)
	if err != nil {
		h.failures.Add(1)
		return response{}, err
	}
	if h.opt.CacheTTL > 0 {
		h.mu.Lock()
		if len(h.cache) >= h.opt.CacheMax {
			for key := range h.cache { // drop arbitrary entries: the size stays bounded
				delete(h.cache, key)
				if len(h.cache) < h.opt.CacheMax {
					break
				}
			}
		}
		h.cache[k] = entry{res: res, expires: time.Now().Add(h.opt.CacheTTL).UnixNano()}
		h.mu.Unlock()
	}
	return res, nil
}

func (h *Hook) post(body []byte) (response, error) {
	h.calls.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), h.opt.Timeout)
	defer cancel()
	rq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.opt.URL, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	rq.Header.Set("Content-Type", "application/json")
	rs, err := h.client.Do(rq)
	if err != nil {
		return response{}, fmt.Errorf("%w: %v", errFailed, err)
	}
	defer rs.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rs.Body, 64<<10))
	if err != nil {
		return response{}, fmt.Errorf("%w: %v", errFailed, err)
	}
	switch {
	case rs.StatusCode == http.StatusNoContent || (rs.StatusCode == http.StatusOK && len(bytes.TrimSpace(b)) == 0):
		return response{Result: "allow"}, nil
	case rs.StatusCode == http.StatusUnauthorized || rs.StatusCode == http.StatusForbidden:
		return response{Result: "deny"}, nil
	case rs.StatusCode != http.StatusOK:
		return response{}, fmt.Errorf("%w: status %d", errFailed, rs.StatusCode)
	}
	var res response
	if err := json.Unmarshal(b, &res); err != nil {
		return response{}, fmt.Errorf("%w: body is not JSON: %v", errFailed, err)
	}
	switch res.Result {
	case "allow", "deny", "ignore":
		return res, nil
	}
	return response{}, fmt.Errorf("%w: result %q is not allow, deny or ignore", errFailed, res.Result)
}
