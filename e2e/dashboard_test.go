package e2e

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/servertest"
)

// TestDashboardInChromium opens the dashboard of a running cp7 (the real
// binary, admin listener on a free port) in headless Chromium while a
// publisher sends to a subscriber. The connection count and the charts
// follow clients as they come and go, the kick button disconnects a v5
// client with DISCONNECT 0x98, and a screenshot is saved under e2e/out/
// (or $CP7_E2E_OUT).
func TestDashboardInChromium(t *testing.T) {
	skipShort(t)
	requireTool(t, "chromium")
	n := startNode(t, "cp7-dash", "-admin-listen", "127.0.0.1:0")
	addr, err := net.ResolveTCPAddr("tcp", n.mqtt)
	if err != nil {
		t.Fatal(err)
	}

	// Traffic: about 200 QoS 0 messages a second, read and discarded.
	sub := servertest.DialConnect(t, addr, "dash-sub", true, false)
	sub.MustSubscribe(1, 0, "dash/#")
	pub := servertest.DialConnect(t, addr, "dash-pub", true, false)
	// servertest leaves its last deadlines set: the traffic runs as long as
	// the test.
	_ = sub.NetConn().SetReadDeadline(time.Time{})
	_ = pub.NetConn().SetWriteDeadline(time.Time{})
	stop := make(chan struct{})
	var period atomic.Int64 // publish interval, nanoseconds
	period.Store(int64(5 * time.Millisecond))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(io.Discard, sub.NetConn())
	}()
	go func() {
		defer wg.Done()
		pkt := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("dash/temp"), Payload: []byte("21.5")}, codec.Version311)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(period.Load())):
				if _, err := pub.NetConn().Write(pkt); err != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); sub.Close(); pub.Close(); wg.Wait() })

	page, browser := startChromium(t, "http://"+n.admin+"/")
	defer browser.kill()
	count := `document.getElementById("connected").textContent`
	page.waitEval("connection count", count, browserTimeout, equals("2"))
	rateIn := `document.getElementById("chart-rates").dataset.last.split(",")[0]`
	page.waitEval("inbound rate on the chart", rateIn, 20*time.Second, func(v string) bool {
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && f > 50
	})
	points := func() int {
		v, _ := strconv.Atoi(page.eval(`document.getElementById("chart-rates").dataset.points`))
		return v
	}
	p1 := points()

	// Three more clients: the count and the connections chart follow.
	var extra []*servertest.Conn
	for _, id := range []string{"dash-a", "dash-b"} {
		extra = append(extra, servertest.DialConnect(t, addr, id, true, false))
	}
	victim := servertest.Dial(t, addr)
	vc := servertest.NewConnect("victim", true, 0)
	vc.ProtocolVersion = codec.Version5
	victim.MustConnect(vc, false)
	page.waitEval("connection count after 3 joined", count, 20*time.Second, equals("5"))
	page.waitEval("connections chart", `document.getElementById("chart-conns").dataset.last`, 20*time.Second, equals("5.00"))
	for _, c := range extra {
		c.Disconnect()
	}
	page.waitEval("connection count after 2 left", count, 20*time.Second, equals("3"))
	holdForScreenshot(t, addr, &period)

	// Search for the victim and press its kick button.
	page.eval(`document.getElementById("search").value = "vic"; document.getElementById("go").click(); "ok"`)
	row := `(() => { const rows = document.querySelectorAll("#clients tr"); return rows.length === 1 ? rows[0].dataset.id : String(rows.length) })()`
	page.waitEval("the search result", row, 20*time.Second, equals("victim"))
	page.waitEval("the kick button", `document.querySelector('#clients tr[data-id="victim"] button.kick').disabled ? "off" : "on"`, 20*time.Second, equals("on"))
	page.screenshot(screenshotPath(t))
	page.eval(`document.querySelector('#clients tr[data-id="victim"] button.kick').click(); "clicked"`)
	pk := victim.Expect(codec.DISCONNECT)
	var d codec.Disconnect
	if err := d.Decode(pk.Body(), codec.Version5); err != nil || d.ReasonCode != codec.AdministrativeAction {
		t.Fatalf("kicked client got DISCONNECT %#x (%v), want 0x98 Administrative action", byte(d.ReasonCode), err)
	}
	if !victim.Closed(eventTimeout) {
		t.Fatal("kicked client still connected")
	}
	page.waitEval("connection count after the kick", count, 20*time.Second, equals("2"))
	if p2 := points(); p2 <= p1 {
		t.Fatalf("rates chart has %d points, had %d: not updating", p2, p1)
	}
	if errText := page.eval(`document.getElementById("err").textContent`); errText != "" {
		t.Fatalf("dashboard shows an error: %q", errText)
	}
	if !strings.Contains(page.eval(`document.getElementById("busiest").textContent`), "dash/temp") {
		t.Errorf("busiest topics do not list dash/temp: %q", page.eval(`document.getElementById("busiest").textContent`))
	}
}

// holdForScreenshot, when CP7_E2E_DASHBOARD_HOLD is a duration, keeps the
// page running that long with changing traffic and clients, so that the
// screenshot shows history (how docs/dashboard.png was made).
func holdForScreenshot(t *testing.T, addr net.Addr, period *atomic.Int64) {
	d, err := time.ParseDuration(os.Getenv("CP7_E2E_DASHBOARD_HOLD"))
	if err != nil || d <= 0 {
		return
	}
	var conns []*servertest.Conn
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		period.Store(int64(time.Duration(2+i%5) * time.Millisecond))
		if i%10 < 5 {
			conns = append(conns, servertest.DialConnect(t, addr, "device-"+strconv.Itoa(i), true, false))
		} else if len(conns) > 0 {
			conns[len(conns)-1].Disconnect()
			conns = conns[:len(conns)-1]
		}
		time.Sleep(2 * time.Second)
	}
	for _, c := range conns {
		c.Disconnect()
	}
	period.Store(int64(5 * time.Millisecond))
}

// screenshotPath is where the dashboard test saves its screenshot.
func screenshotPath(t *testing.T) string {
	dir := os.Getenv("CP7_E2E_OUT")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "e2e", "out")
	}
	return filepath.Join(dir, "dashboard.png")
}
