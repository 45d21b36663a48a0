package server

import (
	"runtime"
	"sync"
	"time"

	"github.com/cp7/cp7/codec"
)

// Slow checks off the event loops.
//
// Password hashes, JWT signatures and HTTP calls take 0.1-100 ms; run on an
// event loop they would stall every connection the loop owns. So a CONNECT
// that Config.Auth cannot decide at once (QuickAuthenticator) becomes an
// authJob on a bounded queue served by a fixed pool of worker goroutines.
// The connection enters stateChecking: process stops parsing it, so the
// packets sent behind CONNECT wait in gnet's buffer (or the reader
// goroutine's), as they do during a take-over. The worker posts the answer
// back to the connection's loop as a task (authAnswered), which refuses or
// attaches the session and then parses what waited.
//
// A full queue refuses the CONNECT at once with Server busy (v5 0x89,
// 3.1.1 0x03) and counts it (Stats.AuthBusy): a connect storm sheds load
// instead of growing a queue without bound.

// defaultAuthWorkers sizes the pool when Config.AuthWorkers is 0: hashing
// wants about one worker per core, HTTP calls spend their time waiting, so
// a few per core serve both.
func defaultAuthWorkers() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// authJob is one CONNECT waiting for its check. Its ConnInfo holds copies
// of the CONNECT's slices: the worker outlives the loop's read buffer.
type authJob struct {
	l    *loop
	c    *client
	req  attachReq
	info ConnInfo
	rc   codec.ReasonCode
	buf  []byte // backing array of info.Username and info.Password
}

// authPool is the bounded queue and its workers. Safe from any goroutine.
type authPool struct {
	auth Authenticator
	jobs chan *authJob
	stop chan struct{}
	wg   sync.WaitGroup
}

func newAuthPool(a Authenticator, workers, queue int) *authPool {
	if workers <= 0 {
		workers = defaultAuthWorkers()
	}
	if queue <= 0 {
		queue = 64 * workers
	}
	p := &authPool{auth: a, jobs: make(chan *authJob, queue), stop: make(chan struct{})}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

// submit queues j; false when the queue is full.
func (p *authPool) submit(j *authJob) bool {
	select {
	case p.jobs <- j:
		return true
	default:
		return false
	}
}

func (p *authPool) work() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case j := <-p.jobs:
			j.rc = p.auth.Authenticate(&j.info)
			clear(j.buf) // the password copy is not needed any more
			j.info.Password = nil
			l := j.l
			if !l.post(func() {
				l.now = time.Now()
				l.authAnswered(j)
			}) {
				// The connection's loop ended with it: nothing to answer.
				l.srv.authPending.Add(-1)
			}
		}
	}
}

// close stops the workers; queued jobs are dropped (their connections are
// being closed by the server's shutdown). A check still running (an HTTP
// call up to its timeout) is waited for at most 2 s; its answer then finds
// its loop gone.
func (p *authPool) close() {
	close(p.stop)
	waitTimeout(&p.wg, 2*time.Second)
}

// authenticate runs Config.Auth for a CONNECT: at once when the
// authenticator can decide quickly, else on the worker pool, parking the
// connection in stateChecking until the answer comes back. Owner only.
func (l *loop) authenticate(c *client, p *codec.Connect, req attachReq) error {
	srv := l.srv
	info := ConnInfo{ClientID: req.id, Username: p.Username, Password: p.Password,
		Remote: c.remoteAddr(), Version: c.version, CommonName: c.commonName()}
	if q, ok := srv.cfg.Auth.(QuickAuthenticator); ok {
		if rc, done := q.Quick(&info); done {
			return l.authDecided(c, req, rc, &info)
		}
	}
	j := &authJob{l: l, c: c, req: req, info: info}
	// One copy for both slices: they borrow the loop's read buffer.
	j.buf = make([]byte, len(p.Username)+len(p.Password))
	n := copy(j.buf, p.Username)
	copy(j.buf[n:], p.Password)
	j.info.Username = j.buf[:n:n]
	j.info.Password = j.buf[n:]
	if !srv.auth.submit(j) {
		l.event(evAuthBusy)
		return l.refuse(c, codec.ServerBusy, "too many authentications waiting (the auth queue is full): retry later")
	}
	srv.authPending.Add(1)
	c.state = stateChecking
	return nil
}

// authAnswered runs on the connection's loop with a worker's answer.
func (l *loop) authAnswered(j *authJob) {
	l.srv.authPending.Add(-1)
	c := j.c
	if c.state != stateChecking {
		return // closed (or timed out) while the check ran
	}
	c.state = stateNew // authDecided moves it on
	if err := l.authDecided(c, j.req, j.rc, &j.info); err != nil {
		if ce, ok := err.(*connError); ok {
			ce.clientID = j.req.id // no session is attached: name the client as it named itself
		}
		l.fail(c, err)
		if c.gc == nil {
			c.x.t.resumeInput() // the reader waits for the answer: let it see the close
		}
	}
}

// authDecided applies a decision: a refusal, or the session's attach. On
// success the method's user name and topic rules become the client's.
func (l *loop) authDecided(c *client, req attachReq, rc codec.ReasonCode, info *ConnInfo) error {
	if rc != codec.Success {
		l.event(evAuthFailed)
		return l.refuse(c, rc, "authentication failed")
	}
	if info.User != "" && info.User != c.username() {
		c.ext().user = info.User
	}
	c.setRules(info.Rules)
	c.state = stateAttaching
	l.attach(req)
	return nil
}
