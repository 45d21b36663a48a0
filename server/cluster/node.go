// Package cluster joins CP7 nodes into one broker over NATS: each node embeds
// a nats-server (the nodes' servers joined by routes) and talks to it
// in-process, or uses an external NATS deployment. It implements
// server.Cluster: a node subscribes on NATS to the subject of each distinct
// MQTT filter it holds, so NATS carries a publish only to nodes where
// someone listens; shared subscriptions are NATS queue groups; retained
// messages live in a replicated JetStream key-value bucket. See
// docs/DESIGN.md ("Cluster").
//
// The package is imported only by cmd/cp7 and its own tests, so that the
// server package and its tests never compile nats-server.
package cluster

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/cp7/cp7/server"
)

// Config says how a node joins its cluster.
type Config struct {
	// NodeName names this node (unique in the cluster); default: the host
	// name and the route port.
	NodeName string
	// ClusterName is the NATS cluster's name; nodes with another name do
	// not join. Default "cp7".
	ClusterName string
	// Listen is the embedded NATS server's route address (host:port; port
	// 0 picks a free one).
	Listen string
	// Routes are the seed nodes' route URLs (nats-route://host:port); a
	// node may list itself.
	Routes []string
	// NATSURLs, instead of Listen and Routes, use an existing NATS
	// deployment (nats://host:port); retained messages then need JetStream
	// there.
	NATSURLs []string
	// StoreDir holds the embedded server's JetStream files (retained
	// messages); default a folder under the system's temporary folder named
	// after the node.
	StoreDir string
	// Replicas of the retained-message bucket; 0 picks 3 when at least two
	// routes are given (three nodes or more), else 1.
	Replicas int
	// MaxPayload is the largest message the bus carries (bytes); 0 means 8 MiB.
	MaxPayload int32
	// InterestFold, when above 0, makes a node that holds more than this
	// many plain filters under one first level subscribe on the bus to
	// "level/#" once instead of once per filter (see bus.go); 0 = exact
	// interest per filter.
	InterestFold int
	// Heartbeat is how often a node tells the others it is alive; a node
	// unheard for three of them has left. 0 means one second.
	Heartbeat time.Duration
	Log       *slog.Logger
}

// Enabled reports whether cfg asks for a cluster at all: a single node
// (none of Listen, Routes, NATSURLs) starts nothing.
func (c *Config) Enabled() bool {
	return c.Listen != "" || len(c.Routes) > 0 || len(c.NATSURLs) > 0
}

// Node is one CP7 node's membership in the cluster. Its methods are safe for
// concurrent use.
type Node struct {
	cfg  Config
	log  *slog.Logger
	srv  *server.Server
	ns   *natsserver.Server // nil with an external NATS
	id   uint64             // this run of the node: sequence numbers restart with it
	name string

	pc *nats.Conn // publishes and plain subscriptions (no echo: local subscribers got it already)
	qc *nats.Conn // queue subscriptions (shared groups, which this node's members may win)
	kc *nats.Conn // JetStream: retained messages

	out  opQueue // loops → the bus goroutine
	in   chan *nats.Msg
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	interest map[string]*interest   // filter as subscribed → its subscriptions (bus goroutine only)
	folds    map[string]*prefixFold // first level → its folded filters (bus goroutine only)
	closed   bool

	ret     retained
	members members
	claims  claims
	stats   stats
}

// New makes a node for srv. Call Start after server.New and before
// srv.Start: it calls srv.SetCluster.
func New(cfg Config, srv *server.Server) (*Node, error) {
	if !cfg.Enabled() {
		return nil, errors.New("cluster: no -cluster-listen, -cluster-routes or -nats-url: a single node needs no cluster")
	}
	if len(cfg.NATSURLs) > 0 && (cfg.Listen != "" || len(cfg.Routes) > 0) {
		return nil, errors.New("cluster: -nats-url uses an external NATS; do not also give -cluster-listen or -cluster-routes")
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = "cp7"
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 8 << 20
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
		if len(cfg.Routes) >= 2 {
			cfg.Replicas = 3
		}
	}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	n := &Node{
		cfg:      cfg,
		log:      cfg.Log,
		srv:      srv,
		id:       binary.BigEndian.Uint64(idb[:]) | 1,
		in:       make(chan *nats.Msg, 1<<16),
		done:     make(chan struct{}),
		interest: make(map[string]*interest),
		folds:    make(map[string]*prefixFold),
	}
	n.out.wake = make(chan struct{}, 1)
	n.ret.wake = make(chan struct{}, 1)
	n.ret.ready = make(chan struct{})
	srv.SetCluster(n)
	return n, nil
}

// Start starts the embedded NATS server (if any) and connects to the bus.
// It returns once this node can publish; other nodes may join later.
func (n *Node) Start() error {
	var opts []nats.Option
	if len(n.cfg.NATSURLs) == 0 {
		if err := n.startEmbedded(); err != nil {
			return err
		}
		opts = append(opts, nats.InProcessServer(n.ns))
	} else if n.cfg.NodeName == "" {
		host, _ := os.Hostname()
		n.cfg.NodeName = host + "-" + strconv.FormatUint(n.id&0xffff, 16)
	}
	n.name = n.cfg.NodeName
	url := strings.Join(n.cfg.NATSURLs, ",")
	connect := func(role string, extra ...nats.Option) (*nats.Conn, error) {
		o := append([]nats.Option{
			nats.Name("cp7 " + n.name + " " + role),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(250 * time.Millisecond),
			nats.ReconnectBufSize(64 << 20),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					n.log.Warn("cluster: lost the bus, reconnecting", "role", role, "err", err)
				}
			}),
		}, opts...)
		nc, err := nats.Connect(url, append(o, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("cluster: cannot connect to NATS (%s): %w", role, err)
		}
		return nc, nil
	}
	var err error
	if n.pc, err = connect("bus", nats.NoEcho()); err == nil {
		if n.qc, err = connect("shared"); err == nil {
			n.kc, err = connect("retained")
		}
	}
	if err != nil {
		n.Close()
		return err
	}
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.sendLoop() }()
	go func() { defer n.wg.Done(); n.receiveLoop() }()
	go func() { defer n.wg.Done(); n.retainLoop() }()
	if err := n.startMembers(); err != nil {
		n.Close()
		return err
	}
	if err := n.startClaims(); err != nil {
		n.Close()
		return err
	}
	n.log.Info("cluster: joined", "node", n.name, "cluster", n.cfg.ClusterName, "route", n.RouteAddr(), "external", len(n.cfg.NATSURLs) > 0)
	return nil
}

func (n *Node) startEmbedded() error {
	host, port := "0.0.0.0", natsserver.RANDOM_PORT
	if n.cfg.Listen != "" {
		h, p, err := net.SplitHostPort(n.cfg.Listen)
		if err != nil {
			return fmt.Errorf("cluster: -cluster-listen %q: %w (want host:port, e.g. 0.0.0.0:6222)", n.cfg.Listen, err)
		}
		if h != "" {
			host = h
		}
		if port, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("cluster: -cluster-listen %q: port: %w", n.cfg.Listen, err)
		}
		if port == 0 {
			port = natsserver.RANDOM_PORT
		}
	}
	if n.cfg.NodeName == "" {
		h, _ := os.Hostname()
		n.cfg.NodeName = h + "-" + strconv.FormatUint(n.id&0xffff, 16)
	}
	dir := n.cfg.StoreDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cp7-cluster-"+n.cfg.NodeName)
	}
	routes := natsserver.RoutesFromStr(strings.Join(n.cfg.Routes, ","))
	if len(n.cfg.Routes) > 0 && len(routes) != len(n.cfg.Routes) {
		return fmt.Errorf("cluster: -cluster-routes %q: want nats-route://host:port,...", strings.Join(n.cfg.Routes, ","))
	}
	o := &natsserver.Options{
		ServerName: n.cfg.NodeName,
		// This node talks to its server in-process. nats-server (2.15)
		// starts routing only after its client accept loop, which
		// DontListen skips, so a client port is bound anyway: on loopback
		// and a random port, unused by CP7.
		Host:       "127.0.0.1",
		Port:       natsserver.RANDOM_PORT,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: n.cfg.MaxPayload,
		MaxPending: int64(n.cfg.MaxPayload) * 8,
		Cluster: natsserver.ClusterOpts{
			Name: n.cfg.ClusterName,
			Host: host,
			Port: port,
		},
		Routes:    routes,
		JetStream: true,
		StoreDir:  dir,
	}
	ns, err := natsserver.NewServer(o)
	if err != nil {
		return fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return fmt.Errorf("cluster: embedded NATS server not ready in 10 s (is %s:%d in use?)", host, port)
	}
	n.ns = ns
	return nil
}

// Name is this node's name.
func (n *Node) Name() string { return n.name }

// RouteAddr is the embedded server's route address ("" with an external
// NATS): other nodes list it in -cluster-routes as nats-route://ADDR.
func (n *Node) RouteAddr() string {
	if n.ns == nil {
		return ""
	}
	if a := n.ns.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// HasInterest reports whether some node's subscription (this node's
// included) matches topic, as this node's embedded server sees it; false
// with an external NATS. Tests use it to wait for interest to spread.
func (n *Node) HasInterest(topic string) bool {
	if n.ns == nil {
		return false
	}
	return n.ns.GlobalAccount().SubscriptionInterest(Subject(topic))
}

// Close leaves the cluster: says goodbye, closes the connections and stops
// the embedded server. Call it after the MQTT server's Close.
func (n *Node) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.mu.Unlock()
	n.stopMembers()
	close(n.done)
	n.wg.Wait()
	for _, c := range []*nats.Conn{n.pc, n.qc, n.kc} {
		if c != nil {
			c.Close()
		}
	}
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}
