package cluster

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cp7/cp7/server/admin"
)

// GET /api/v1/cluster shows every member from any node, and the node's
// cluster figures are /metrics families.
func testStatusAPI(t *testing.T, nodes []*tnode) {
	n := nodes[0]
	waitFor(t, 10*time.Second, "three members seen from node 0", func() bool { return len(n.node.Members()) == 3 })
	h := admin.New(n.srv, admin.Options{Cluster: func() any { return n.node.Status() }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/cluster", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/cluster: %d %s", rec.Code, rec.Body)
	}
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("GET /api/v1/cluster: %v in %s", err, rec.Body)
	}
	names := map[string]bool{}
	for _, m := range st.Members {
		names[m.Name] = true
	}
	for _, o := range nodes {
		if !names[o.name] {
			t.Errorf("GET /api/v1/cluster on %s lists %v, not %s", n.name, names, o.name)
		}
	}
	if st.Node != n.name || st.Published == 0 {
		t.Errorf("status names node %q (want %q) and %d messages published to the bus (want some, after the tests before)", st.Node, n.name, st.Published)
	}
	found := false
	for _, f := range n.node.Families() {
		if f.Name == "cp7_cluster_members" {
			found = true
			if f.Samples[0].Value != 3 {
				t.Errorf("cp7_cluster_members = %v, want 3", f.Samples[0].Value)
			}
		}
	}
	if !found {
		t.Error("no cp7_cluster_members family")
	}
}
