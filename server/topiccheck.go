package server

import (
	"errors"
	"sync/atomic"
	"time"
)

// Slow topic decisions off the event loops.
//
// An HTTP hook decides publish and subscribe through a SlowTopicAuthorizer.
// Its cached decisions are asked on the loop (Lookup). On a miss the
// connection is parked at that packet without consuming it: handle returns
// errTopicWait, process gives the packet's bytes back and stops (clientACL.wait),
// so they and everything behind them wait in gnet's buffer (or the reader
// goroutine's), as a CONNECT does in stateChecking. The question goes to the
// auth worker pool (server/authcheck.go); the answer comes back to the
// connection's loop as a task (topicAnswered), is kept in clientACL.answers
// and the packet is handled again from its first byte, now with the answer
// known (whether or not the hook caches it). One question (one packet) is
// outstanding per connection; other connections on the loop go on.
//
// A full auth queue does not refuse the packet outright: its topics get the
// hook's fail policy (Overloaded) and the count goes to Stats.TopicBusy.

// errTopicWait and errTopicRetry are returned by a packet handler whose
// topic decision is not known yet: process gives the packet back and stops
// (a worker is asking) or handles it again at once (the answers are there).
var (
	errTopicWait  = errors.New("server: topic decision pending")
	errTopicRetry = errors.New("server: topic decision ready")
)

// topicAnswer is one decision a worker (or the fail policy) gave for the
// packet being handled again.
type topicAnswer struct {
	action, topic string
	allow         bool
}

// decideTopic answers whether c may do action (ActionPublish,
// ActionSubscribe) on topic; known is false when only a worker can tell
// (ask with waitTopics). Owner only; called only when srv.checkTopics.
func (l *loop) decideTopic(c *client, action string, topic []byte) (allow, known bool) {
	v := l.topicRules(c)
	if v == nil {
		return true, true
	}
	ca := c.x.acl // a view is cached there
	if ca.slow == nil {
		return quickAsk(v, action, topic), true
	}
	for i := range ca.answers {
		if a := &ca.answers[i]; a.action == action && a.topic == string(topic) {
			return a.allow, true
		}
	}
	return ca.slow.Lookup(action, topic)
}

// doneTopics forgets the answers kept for the packet just handled.
func (c *client) doneTopics() {
	if c.x != nil && c.x.acl != nil && len(c.x.acl.answers) > 0 {
		clear(c.x.acl.answers)
		c.x.acl.answers = c.x.acl.answers[:0]
	}
}

// waitTopics sends c's questions about topics to the auth workers and
// parks c until the answer comes (errTopicWait). With the queue full the
// fail policy answers at once (errTopicRetry). Owner only.
func (l *loop) waitTopics(c *client, action string, topics []string) error {
	ca := c.x.acl
	j := &authJob{l: l, c: c, slow: ca.slow, action: action, topics: topics}
	if l.srv.auth == nil || !l.srv.auth.submit(j) {
		l.srv.topicStats.busy.Add(1)
		allow := ca.slow.Overloaded(action)
		for _, t := range topics {
			ca.answers = append(ca.answers, topicAnswer{action, t, allow})
		}
		return errTopicRetry
	}
	l.srv.topicStats.checks.Add(1)
	l.srv.topicStats.pending.Add(1)
	c.x.acl.wait = true
	return errTopicWait
}

// askWill sends the question about c's will topic to the auth workers
// while c is being attached; c's input waits for the answer, as behind a
// PUBLISH. With the queue full the fail policy decides at once. Owner only.
func (l *loop) askWill(c *client) {
	ca := c.x.acl
	j := &authJob{l: l, c: c, slow: ca.slow, action: ActionPublish, topics: []string{string(c.x.will.m.Topic)}, will: true}
	if l.srv.auth == nil || !l.srv.auth.submit(j) {
		l.srv.topicStats.busy.Add(1)
		if !ca.slow.Overloaded(ActionPublish) {
			l.dropWill(c)
		}
		return
	}
	l.srv.topicStats.checks.Add(1)
	l.srv.topicStats.pending.Add(1)
	ca.willAsked = true
	c.x.acl.wait = true
}

// fetchTopics runs on an auth worker: ask, then post the answers back.
func (j *authJob) fetchTopics() {
	j.allows = make([]bool, len(j.topics))
	for i, t := range j.topics {
		j.allows[i] = j.slow.Fetch(j.action, t)
	}
	l := j.l
	if !l.post(func() {
		l.now = time.Now()
		l.topicAnswered(j)
	}) {
		l.srv.topicStats.pending.Add(-1) // the loop ended with the connection
	}
}

// topicAnswered runs on the connection's loop with a worker's answers, and
// handles the parked packet again. A connection closed meanwhile ignores
// them.
func (l *loop) topicAnswered(j *authJob) {
	l.srv.topicStats.pending.Add(-1)
	c := j.c
	if !c.topicWaiting() {
		return
	}
	c.x.acl.wait = false
	if c.state == stateClosed {
		return
	}
	if j.will {
		if c.x != nil && c.x.acl != nil && c.x.acl.willAsked {
			c.x.acl.willAsked = false
			if !j.allows[0] && c.x.will != nil {
				l.dropWill(c)
			}
		}
	} else if c.state == stateConnected && c.x != nil && c.x.acl != nil {
		ca := c.x.acl
		for i, t := range j.topics {
			ca.answers = append(ca.answers, topicAnswer{j.action, t, j.allows[i]})
		}
	}
	c.lastActive = l.now.UnixMilli() // the parked packet arrived before: no keepalive for the wait
	c.resumeInput()
}

// topicWaiting: a packet of c waits for a topic decision; its bytes stay
// unread until topicAnswered. Owner only.
func (c *client) topicWaiting() bool {
	return c.x != nil && c.x.acl != nil && c.x.acl.wait
}

// topicStats count the topic decisions sent to the auth workers.
type topicStats struct {
	checks, busy atomic.Uint64
	pending      atomic.Int64
}
