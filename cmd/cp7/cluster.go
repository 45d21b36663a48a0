package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/cluster"
)

// clusterFlags join this node to a cluster over NATS (server/cluster). With
// none of them set, cp7 is a single node and starts no NATS at all.
type clusterFlags struct {
	nodeName, clusterName, listen, routes, natsURL, storeDir string
	fold                                                     int

	cfg  cluster.Config
	node *cluster.Node
}

func init() { addGroup(func() flagGroup { return new(clusterFlags) }) }

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeName, "node-name", "", "this node's `NAME`, unique in the cluster; default: host name and a random suffix")
	fs.StringVar(&f.clusterName, "cluster-name", "cp7", "the cluster's `NAME`: nodes with another name do not join")
	fs.StringVar(&f.listen, "cluster-listen", "", "`ADDR` (host:port) of the embedded NATS server's route port that other nodes connect to; empty with no -cluster-routes and no -nats-url = a single node")
	fs.StringVar(&f.routes, "cluster-routes", "", "seed nodes' route `URLS`: nats-route://HOST:PORT,... (a node may list itself)")
	fs.StringVar(&f.natsURL, "nats-url", "", "`URLS` of an external NATS deployment (nats://HOST:PORT,...) to use instead of the embedded server; retained messages need JetStream there")
	fs.IntVar(&f.fold, "cluster-interest-fold", 0, "when a node holds more than `N` plain filters under one first level (a topic per device: dev/1, dev/2, ...), it asks the other nodes for \"level/#\" once instead of for each filter, so their route interest stays small; they then send it every message under the level. 0 = interest per filter")
	fs.StringVar(&f.storeDir, "cluster-store", "", "`DIR` for the embedded NATS server's JetStream files (cluster-wide retained messages); default: a folder under the system's temporary folder named after the node")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (f *clusterFlags) apply(o *options) error {
	f.cfg = cluster.Config{
		NodeName:    f.nodeName,
		ClusterName: f.clusterName,
		Listen:      f.listen,
		Routes:      splitList(f.routes),
		NATSURLs:    splitList(f.natsURL),
		StoreDir:    f.storeDir,

		InterestFold: f.fold,
	}
	if f.cfg.Enabled() {
		o.clusterStatus = func() any {
			if f.node == nil {
				return nil
			}
			return f.node.Status()
		}
	}
	if f.fold < 0 {
		return fmt.Errorf("-cluster-interest-fold %d is negative: use 0 (off) or a filter count", f.fold)
	}
	if len(f.cfg.NATSURLs) > 0 && (f.listen != "" || len(f.cfg.Routes) > 0) {
		return fmt.Errorf("-nats-url uses an external NATS: do not also give -cluster-listen or -cluster-routes")
	}
	for _, r := range f.cfg.Routes {
		if !strings.HasPrefix(r, "nats-route://") && !strings.HasPrefix(r, "nats://") {
			return fmt.Errorf("-cluster-routes %q: each route is nats-route://HOST:PORT", r)
		}
	}
	if len(f.cfg.Routes) > 0 && f.listen == "" {
		f.cfg.Listen = "0.0.0.0:6222" // NATS's usual route port
	}
	return nil
}

// attach joins the cluster between server.New and Start.
func (f *clusterFlags) attach(srv *server.Server, log *slog.Logger) error {
	if !f.cfg.Enabled() {
		return nil
	}
	f.cfg.Log = log
	n, err := cluster.New(f.cfg, srv)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		return err
	}
	f.node = n
	srv.AddCollector(n.Families)
	return nil
}

func (f *clusterFlags) start(_ context.Context, _ *server.Server, _ *slog.Logger) (func(), error) {
	if f.node == nil {
		return func() {}, nil
	}
	return f.node.Close, nil
}
