package cluster

import "github.com/cp7/cp7/server"

// Families are the node's cluster figures for /metrics (server.AddCollector):
// bus traffic, route interest and the members it sees. Safe for concurrent
// use; it reads atomics and the member table only.
func (n *Node) Families() []server.Family {
	st := n.Status()
	counter := func(name, help string, v uint64) server.Family {
		return server.Family{Name: name, Help: help, Type: "counter", Samples: []server.Sample{{Value: float64(v)}}}
	}
	gauge := func(name, help string, v int64) server.Family {
		return server.Family{Name: name, Help: help, Type: "gauge", Samples: []server.Sample{{Value: float64(v)}}}
	}
	return []server.Family{
		counter("cp7_cluster_bus_published_total", "Messages this node handed to the cluster bus.", st.Published),
		counter("cp7_cluster_bus_received_total", "Messages this node received from other nodes.", st.Received),
		counter("cp7_cluster_bus_duplicates_dropped_total", "Copies of one message received through overlapping filters and dropped.", st.Dups),
		counter("cp7_cluster_bus_publish_errors_total", "Messages the bus refused to take.", st.Errors),
		gauge("cp7_cluster_filters", "Distinct MQTT filters this node has asked the bus for.", st.Filters),
		gauge("cp7_cluster_folded_prefixes", "First levels whose filters are asked for as one level/# (-cluster-interest-fold).", st.Folded),
		gauge("cp7_cluster_members", "Nodes this node sees, itself included.", int64(len(st.Members))),
	}
}
