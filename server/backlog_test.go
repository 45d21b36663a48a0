package server

import "testing"

// TestHandOverShedsQoS0PastTheBacklog: once a loop is MaxLoopBacklog
// deliveries behind, QoS 0 hand-overs to it are dropped and counted, while
// QoS 1 still goes.
func TestHandOverShedsQoS0PastTheBacklog(t *testing.T) {
	bb := newBenchBroker(t)
	bb.srv.cfg.MaxLoopBacklog = 2
	// The target accepts tasks but never runs them: it is "behind".
	target := newLoop(bb.srv, func(func()) bool { return true })
	s := &session{id: "s"}
	s.owner.Store(target)
	m := &Message{Topic: []byte("t"), Payload: []byte("x"), QoS: 1, owned: true}
	for range 3 {
		bb.l.handOver(target, s, m, deliverOpts{qos: 0})
		bb.l.endTurn()
	}
	if got := target.backlog.Load(); got != 3 {
		t.Fatalf("backlog %d after three QoS 0 hand-overs under the limit, want 3", got)
	}
	bb.l.handOver(target, s, m, deliverOpts{qos: 0})
	bb.l.endTurn()
	if got := bb.srv.Stats().DroppedBacklog; got != 1 {
		t.Fatalf("droppedBacklog %d, want 1 once the backlog passed the limit", got)
	}
	bb.l.handOver(target, s, m, deliverOpts{qos: 1})
	bb.l.endTurn()
	if got := target.backlog.Load(); got != 4 {
		t.Fatalf("backlog %d, want 4: QoS 1 is never shed", got)
	}
}
