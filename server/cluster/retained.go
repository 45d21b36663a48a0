package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Retained messages are cluster-wide through a JetStream key-value bucket,
// "cp7_retained", replicated on three nodes once there are three: key =
// the topic (base64url, since KV keys allow only a few characters), value =
// the bus message, history 1. Every node watches the whole bucket and keeps
// its own retained tree (the one a SUBSCRIBE reads) equal to it, so a
// subscribe never waits on the bus. A node that restarts reads the bucket
// again from the watch's initial values.
const retainedBucket = "cp7_retained"

type retainOp struct {
	topic string
	msg   []byte // nil: clear
}

type retained struct {
	mu      sync.Mutex
	pending []retainOp
	wake    chan struct{}
	ready   chan struct{} // closed once the bucket is watched
	once    sync.Once
	kv      jetstream.KeyValue
}

// Retain implements server.Cluster. Called by event loops.
func (n *Node) Retain(topic string, msg []byte) {
	r := &n.ret
	r.mu.Lock()
	r.pending = append(r.pending, retainOp{topic, msg})
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func retainedKey(topic string) string { return base64.RawURLEncoding.EncodeToString([]byte(topic)) }

func retainedTopic(key string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	return string(b), err == nil && len(b) > 0
}

// retainLoop opens the bucket (retrying until JetStream has a leader),
// watches it into the server's retained tree and writes this node's
// changes to it.
func (n *Node) retainLoop() {
	r := &n.ret
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.done
		cancel()
	}()
	js, err := jetstream.New(n.kc)
	if err != nil {
		n.log.Error("cluster: no JetStream; retained messages stay on their node", "err", err)
		return
	}
	var kv jetstream.KeyValue
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		kv, err = js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{
			Bucket:   retainedBucket,
			History:  1,
			Replicas: n.cfg.Replicas,
			Storage:  jetstream.FileStorage,
		})
		ccancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		n.log.Debug("cluster: retained bucket not ready yet", "err", err)
		select {
		case <-time.After(delay):
		case <-n.done:
			return
		}
	}
	r.kv = kv
	w, err := kv.WatchAll(ctx)
	if err != nil {
		n.log.Error("cluster: cannot watch the retained bucket", "err", err)
		return
	}
	defer func() { _ = w.Stop() }()
	var ops []retainOp
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil { // the initial values are in
				r.once.Do(func() { close(r.ready) })
				continue
			}
			topic, ok := retainedTopic(e.Key())
			if !ok {
				continue
			}
			switch e.Operation() {
			case jetstream.KeyValuePut:
				n.srv.SetRetainedFromBus(topic, e.Value())
			default:
				n.srv.SetRetainedFromBus(topic, nil)
			}
		case <-r.wake:
			r.mu.Lock()
			ops, r.pending = r.pending, ops[:0]
			r.mu.Unlock()
			for i, o := range ops {
				ops[i] = retainOp{}
				wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
				var err error
				if o.msg == nil {
					err = kv.Delete(wctx, retainedKey(o.topic))
				} else {
					_, err = kv.Put(wctx, retainedKey(o.topic), o.msg)
				}
				wcancel()
				if err != nil && !errors.Is(err, context.Canceled) {
					n.log.Warn("cluster: retained message not stored cluster-wide", "topic", o.topic, "err", err)
				}
			}
		case <-n.done:
			return
		}
	}
}

// RetainedReady is closed once this node holds the cluster's retained
// messages (the bucket's initial values are read).
func (n *Node) RetainedReady() <-chan struct{} { return n.ret.ready }
