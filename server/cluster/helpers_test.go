package cluster

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// tnode is one CP7 node of a test cluster: a broker on a loopback port and
// its cluster membership.
type tnode struct {
	srv  *server.Server
	node *Node
	name string
	dir  string
}

func (n *tnode) stop() {
	_ = n.srv.Close()
	n.node.Close()
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("CP7_CLUSTER_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startNode starts a node named name with its JetStream files in dir,
// routed to seeds (route addresses host:port).
func startNode(t *testing.T, name, dir string, seeds []string, replicas int) *tnode {
	t.Helper()
	return startNodeWith(t, name, dir, seeds, replicas, nil)
}

// startNodeWith is startNode with the cluster config changed by configure.
func startNodeWith(t *testing.T, name, dir string, seeds []string, replicas int, configure func(*Config)) *tnode {
	t.Helper()
	return startNodeServer(t, name, dir, seeds, replicas, configure, nil)
}

// startNodeServer is startNodeWith with the broker's config changed by
// configureServer too (e.g. a durable store).
func startNodeServer(t *testing.T, name, dir string, seeds []string, replicas int, configure func(*Config), configureServer func(*server.Config)) *tnode {
	t.Helper()
	log := testLogger(t)
	cfg := servertest.TestConfig()
	cfg.MaxInflight = 2 // so that a take-over moves queued messages as well as in-flight ones
	if configureServer != nil {
		configureServer(&cfg)
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, s := range seeds {
		routes = append(routes, "nats-route://"+s)
	}
	ccfg := Config{
		NodeName:  name,
		Listen:    "127.0.0.1:0",
		Routes:    routes,
		StoreDir:  dir,
		Replicas:  replicas,
		Heartbeat: 200 * time.Millisecond,
		Log:       log,
	}
	if configure != nil {
		configure(&ccfg)
	}
	node, err := New(ccfg, srv)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		node.Close()
		t.Fatal(err)
	}
	return &tnode{srv: srv, node: node, name: name, dir: dir}
}

// startCluster starts n nodes routed to the first and waits until each
// sees all the others.
func startCluster(t *testing.T, n int) []*tnode {
	t.Helper()
	base := t.TempDir()
	replicas := 1
	if n >= 3 {
		replicas = 3
	}
	nodes := []*tnode{startNode(t, "n0", filepath.Join(base, "n0"), nil, replicas)}
	seed := nodes[0].node.RouteAddr()
	for i := 1; i < n; i++ {
		name := "n" + string(rune('0'+i))
		nodes = append(nodes, startNode(t, name, filepath.Join(base, name), []string{seed}, replicas))
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.stop()
		}
	})
	waitFor(t, 20*time.Second, "every node sees the others", func() bool {
		for _, nd := range nodes {
			if len(nd.node.Members()) != n {
				return false
			}
		}
		return true
	})
	return nodes
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitInterest waits until every node's NATS server knows that someone
// subscribed to a filter matching topic (interest spreads over routes).
func waitInterest(t *testing.T, nodes []*tnode, topic string) {
	t.Helper()
	waitFor(t, 10*time.Second, "interest in "+topic+" reaches every node", func() bool {
		for _, nd := range nodes {
			if !nd.node.HasInterest(topic) {
				return false
			}
		}
		return true
	})
}

func dial(t *testing.T, n *tnode, id string, clean bool) *servertest.Conn {
	t.Helper()
	c := servertest.Dial(t, n.srv.Addr())
	c.MustConnect(servertest.NewConnect(id, clean, 0), false)
	return c
}

// expectNothing fails if a PUBLISH arrives before PINGRESP.
func expectNothingBeforePing(t *testing.T, c *servertest.Conn) {
	t.Helper()
	if got := c.Fence(false); len(got) != 0 {
		t.Fatalf("unexpected PUBLISH %q %q", got[0].Topic, got[0].Payload)
	}
}

var _ = codec.PUBLISH
