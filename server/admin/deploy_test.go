package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cp7/cp7/server/servertest"
)

// TestGrafanaDashboardUsesRealMetrics: every metric a panel of
// deploy/grafana/cp7-dashboard.json queries is in a real scrape.
func TestGrafanaDashboardUsesRealMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "cp7-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("cp7-dashboard.json: %v", err)
	}
	a := startAdmin(t, "")
	c := servertest.DialConnect(t, a.srv.Addr(), "c", true, false)
	c.Ping()
	_, body := a.do(t, http.MethodGet, "/metrics", "")
	names := regexp.MustCompile(`\b((?:cp7|go|process)_[a-z0-9_]+)\{`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range names.FindAllStringSubmatch(tg.Expr, -1) {
				n++
				if !strings.Contains(string(body), "\n"+m[1]+" ") && !strings.Contains(string(body), "\n"+m[1]+"{") {
					t.Errorf("panel %q queries %s, which /metrics does not have", p.Title, m[1])
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("found %d metric references in the dashboard, want at least 20", n)
	}
}

// TestPrometheusScrapeExample: promtool accepts deploy/grafana/prometheus.yml.
func TestPrometheusScrapeExample(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool missing: scripts/install-deps.sh installs the prometheus package")
		}
		t.Skip("promtool missing (Debian package prometheus)")
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(string(src), "/etc/prometheus/cp7-admin-token", tok)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, promtool, "check", "config", conf).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}
