package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestClusterBehindHAProxy runs three cp7 nodes joined as one cluster (the
// embedded NATS servers routed to each other) behind HAProxy. Clients
// connect through HAProxy and land on different nodes; every message any
// client publishes reaches every client. Then one node is SIGKILLed: its
// clients reconnect through HAProxy to the survivors and the exchange goes
// on. Each phase prints delivered/expected.
func TestClusterBehindHAProxy(t *testing.T) {
	skipShort(t)
	bin := requireTool(t, "haproxy")
	const nNodes, nClients, perClient = 3, 6, 20

	routePorts := make([]int, nNodes)
	var routes []string
	for i := range routePorts {
		routePorts[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[i]))
	}
	var nodes []*node
	for i := range nNodes {
		name := fmt.Sprintf("cl-%d", i+1)
		nodes = append(nodes, startNode(t, name,
			"-admin-listen", "127.0.0.1:0",
			"-node-name", name,
			"-cluster-listen", fmt.Sprintf("127.0.0.1:%d", routePorts[i]),
			"-cluster-routes", strings.Join(routes, ","),
			"-cluster-store", filepath.Join(t.TempDir(), name)))
	}
	// Every node logs each other node's join.
	for _, n := range nodes {
		for _, other := range nodes {
			if other != n {
				waitLine(t, []*proc{n.proc}, regexp.MustCompile(`msg="cluster: node joined" node=`+other.name), 20*time.Second)
			}
		}
	}

	dir := t.TempDir()
	data := struct {
		Dir   string
		Port  int
		Nodes []haproxyNode
	}{Dir: dir, Port: freePort(t)}
	for _, n := range nodes {
		data.Nodes = append(data.Nodes, haproxyNode{n.name, n.mqtt, port(t, n.admin)})
	}
	var cfg strings.Builder
	if err := clusterHAProxyTmpl.Execute(&cfg, data); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, cfgPath, []byte(cfg.String()))
	hp := startProc(t, "haproxy", dir, bin, "-db", "-f", cfgPath)
	lbAddr := fmt.Sprintf("127.0.0.1:%d", data.Port)
	waitListening(t, hp, lbAddr)
	sock := filepath.Join(dir, "stats.sock")
	for _, n := range nodes {
		waitServerStatus(t, hp, sock, n.name, "UP")
	}

	clients := make([]*clusterClient, nClients)
	for i := range clients {
		clients[i] = dialClusterClient(t, lbAddr, fmt.Sprintf("cl-dev-%d", i))
	}
	placement := func() map[string]int {
		m := map[string]int{}
		for _, c := range clients {
			n, _ := connectedOn(t, nodes, c.id)
			m[n.name]++
		}
		return m
	}
	t.Logf("clients per node: %v", placement())

	exchange := func(phase string) {
		t.Helper()
		// Interest spreads over routes asynchronously: a probe from each
		// client must reach every client before the counted exchange.
		for _, c := range clients {
			c.reset()
		}
		for round := 0; ; round++ {
			for _, c := range clients {
				c.publish(t, "cl/probe", 0, c.id)
			}
			ok := true
			for _, c := range clients {
				if c.probeSenders() < nClients {
					ok = false
				}
			}
			if ok {
				break
			}
			if round > 100 {
				t.Fatalf("e2e: %s: probes did not reach every client after 100 rounds", phase)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, c := range clients {
			c.reset()
		}
		for _, c := range clients {
			for k := range perClient {
				c.publish(t, "cl/all", 1, fmt.Sprintf("%s %s %d", phase, c.id, k))
			}
		}
		want := int64(nClients * nClients * perClient)
		deadline := time.Now().Add(eventTimeout)
		var got int64
		for time.Now().Before(deadline) {
			got = 0
			for _, c := range clients {
				got += c.count.Load()
			}
			if got >= want {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Printf("cluster e2e: %s: delivered %d / expected %d\n", phase, got, want)
		if got != want {
			t.Errorf("e2e: %s: delivered %d, want %d", phase, got, want)
		}
		for _, c := range clients {
			if d := c.dups.Load(); d != 0 {
				t.Errorf("e2e: %s: %s got %d duplicate messages", phase, c.id, d)
			}
		}
	}
	exchange("all-up")

	// Kill a node that holds clients.
	victim, _ := connectedOn(t, nodes, clients[0].id)
	victim.signal(syscall.SIGKILL)
	select {
	case <-victim.done:
	case <-time.After(eventTimeout):
		t.Fatalf("e2e: %s still running after SIGKILL", victim.name)
	}
	waitServerStatus(t, hp, sock, victim.name, "DOWN")
	var alive []*node
	for _, n := range nodes {
		if n != victim {
			alive = append(alive, n)
			waitLine(t, []*proc{n.proc}, regexp.MustCompile(`msg="cluster: node left" node=`+victim.name), 20*time.Second)
		}
	}
	moved := 0
	for i, c := range clients {
		if c.c.IsConnectionOpen() && !c.lost.Load() {
			continue
		}
		c.c.Disconnect(0)
		clients[i] = dialClusterClient(t, lbAddr, c.id)
		moved++
	}
	if moved == 0 {
		t.Fatalf("e2e: no client lost its connection when %s died", victim.name)
	}
	t.Logf("%s killed: %d clients reconnected through HAProxy", victim.name, moved)
	exchange("one-node-killed")
	_ = alive
}

var clusterHAProxyTmpl = template.Must(template.New("haproxy-cluster").Parse(`
global
	maxconn 1000
	log stdout format raw local0 info
	stats socket {{.Dir}}/stats.sock mode 600 level admin

defaults
	mode tcp
	log global
	option tcplog
	option dontlognull
	retries 3
	option redispatch 1
	timeout connect 2s
	timeout client 10m
	timeout server 10m
	timeout check 1s
	maxconn 1000

frontend mqtt
	bind 127.0.0.1:{{.Port}}
	default_backend cp7_nodes

backend cp7_nodes
	balance roundrobin
	option httpchk
	http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host cp7
	http-check expect status 200
	default-server check inter 200ms fastinter 100ms fall 2 rise 1 observe layer4 error-limit 10 on-error mark-down on-marked-down shutdown-sessions
{{- range .Nodes}}
	server {{.Name}} {{.Addr}} port {{.AdminPort}}
{{- end}}
`))

// clusterClient counts what it receives; duplicates (the same payload twice)
// are counted apart.
type clusterClient struct {
	id     string
	c      mqtt.Client
	lost   atomic.Bool
	count  atomic.Int64
	dups   atomic.Int64
	mu     sync.Mutex
	seen   map[string]bool
	probed map[string]bool // senders whose probe arrived
}

func (c *clusterClient) probeSenders() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.probed)
}

func (c *clusterClient) reset() {
	c.mu.Lock()
	c.seen = map[string]bool{}
	c.probed = map[string]bool{}
	c.mu.Unlock()
	c.count.Store(0)
	c.dups.Store(0)
}

func dialClusterClient(t *testing.T, addr, id string) *clusterClient {
	t.Helper()
	c := &clusterClient{id: id, seen: map[string]bool{}, probed: map[string]bool{}}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(true).SetKeepAlive(30 * time.Second).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).
		SetOrderMatters(false).
		SetConnectionLostHandler(func(mqtt.Client, error) { c.lost.Store(true) })
	opts.SetDialer(&net.Dialer{Timeout: 5 * time.Second})
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		c.c = mqtt.NewClient(opts)
		tok := c.c.Connect()
		if tok.WaitTimeout(eventTimeout) && tok.Error() == nil {
			err = nil
			break
		}
		err = tok.Error()
		time.Sleep(100 * time.Millisecond) // a device's back-off before it reconnects (bounded: 20 tries)
	}
	if err != nil || !c.c.IsConnectionOpen() {
		t.Fatalf("e2e: %s cannot connect through HAProxy: %v", id, err)
	}
	t.Cleanup(func() { c.c.Disconnect(0) })
	tok := c.c.SubscribeMultiple(map[string]byte{"cl/all": 1, "cl/probe": 0}, func(_ mqtt.Client, m mqtt.Message) {
		if m.Topic() == "cl/probe" {
			c.mu.Lock()
			c.probed[string(m.Payload())] = true
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		dup := c.seen[string(m.Payload())]
		c.seen[string(m.Payload())] = true
		c.mu.Unlock()
		if dup {
			c.dups.Add(1)
			return
		}
		c.count.Add(1)
	})
	if !tok.WaitTimeout(eventTimeout) || tok.Error() != nil {
		t.Fatalf("e2e: %s: subscribe: %v", id, tok.Error())
	}
	return c
}

func (c *clusterClient) publish(t *testing.T, topic string, qos byte, payload string) {
	t.Helper()
	tok := c.c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(eventTimeout) || tok.Error() != nil {
		t.Fatalf("e2e: %s: publish %q: %v", c.id, topic, tok.Error())
	}
}
