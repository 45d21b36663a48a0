package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// cdp drives a headless Chromium through the DevTools protocol: a few
// messages over one WebSocket (gorilla/websocket, already a dependency),
// enough to evaluate JavaScript in the page and take a screenshot.
type cdp struct {
	t    testing.TB
	ws   *websocket.Conn
	mu   sync.Mutex
	next int
}

// startChromium runs headless Chromium on url with remote debugging on a
// free port and attaches to the page.
func startChromium(t *testing.T, url string) (*cdp, *proc) {
	t.Helper()
	chromium := requireTool(t, "chromium")
	profile := t.TempDir()
	browser := startProc(t, "chromium", profile, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-proxy-server", "--disable-extensions",
		"--remote-debugging-port=0", "--window-size=1400,1100", "--hide-scrollbars",
		"--user-data-dir="+profile, url)
	// Chromium writes the port it bound to DevToolsActivePort.
	var port string
	deadline := time.Now().Add(browserTimeout)
	for port == "" {
		if b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			if p, _, ok := strings.Cut(string(b), "\n"); ok && p != "" {
				port = p
			}
		}
		if port != "" {
			break
		}
		if time.Now().After(deadline) || browser.exited() {
			t.Fatalf("e2e: chromium gave no DevTools port:\n%s", browser.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var wsURL string
	for wsURL == "" {
		var targets []struct {
			Type, URL, WebSocketDebuggerURL string
		}
		res, err := http.Get("http://127.0.0.1:" + port + "/json/list")
		if err == nil {
			_ = json.NewDecoder(res.Body).Decode(&targets)
			res.Body.Close()
		}
		for _, tg := range targets {
			if tg.Type == "page" && strings.HasPrefix(tg.URL, url[:strings.LastIndexByte(url, '/')]) {
				wsURL = tg.WebSocketDebuggerURL
			}
		}
		if wsURL == "" {
			if time.Now().After(deadline) {
				t.Fatalf("e2e: chromium shows no page for %s: %+v", url, targets)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("e2e: DevTools WebSocket: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return &cdp{t: t, ws: ws}, browser
}

// call sends one DevTools command and returns its result.
func (c *cdp) call(method string, params any) json.RawMessage {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := c.next
	_ = c.ws.SetWriteDeadline(time.Now().Add(eventTimeout))
	if err := c.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		c.t.Fatalf("e2e: DevTools %s: %v", method, err)
	}
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(eventTimeout))
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := c.ws.ReadJSON(&msg); err != nil {
			c.t.Fatalf("e2e: DevTools %s: %v", method, err)
		}
		if msg.ID != id {
			continue // an event
		}
		if msg.Error != nil {
			c.t.Fatalf("e2e: DevTools %s: %s", method, msg.Error.Message)
		}
		return msg.Result
	}
}

// eval evaluates a JavaScript expression in the page and returns its value
// as a string (JSON for objects).
func (c *cdp) eval(expr string) string {
	c.t.Helper()
	raw := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		c.t.Fatalf("e2e: evaluate %q: %v", expr, err)
	}
	if r.ExceptionDetails != nil {
		c.t.Fatalf("e2e: evaluate %q threw: %s", expr, r.ExceptionDetails.Text)
	}
	switch v := r.Result.Value.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// waitEval polls expr until ok accepts its value.
func (c *cdp) waitEval(what, expr string, timeout time.Duration, ok func(string) bool) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var v string
	safe := "(() => { try { return String(" + expr + ") } catch (e) { return \"error: \" + e } })()"
	for {
		v = c.eval(safe)
		if ok(v) {
			return v
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("e2e: %s: %s is %q after %v", what, expr, v, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// screenshot saves the page as a PNG.
func (c *cdp) screenshot(path string) {
	c.t.Helper()
	raw := c.call("Page.captureScreenshot", map[string]any{"format": "png"})
	var r struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		c.t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot: %s (%d bytes)", path, len(b))
}

func equals(want string) func(string) bool { return func(v string) bool { return v == want } }

func itoa(n int) string { return fmt.Sprint(n) }
