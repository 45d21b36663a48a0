package server

import (
	"time"

	"github.com/cp7/cp7/codec"
)

// Client ids are unique cluster-wide. Before a CONNECT attaches, the node
// asks the others (Cluster.Claim): a node holding the id closes that
// connection (its will runs once, as in a take-over on one node) and sends
// the session if it persists; the session is installed here and the attach
// goes on as a resume. Two nodes racing for one id: the cluster orders the
// claims, and commit refuses the older one, whose connection then ends
// without a CONNACK, as when two CONNECTs race on one node.

// ClaimDone is what the cluster reports for a claim: the session another
// node handed over (nil when none, or clean start), and commit, which runs
// attach unless a newer claim elsewhere won meanwhile, and says whether it
// ran. Call commit from the loop that asked.
type ClaimDone func(state []byte, commit func(attach func()) bool)

// claimAttach asks the cluster for r's client id, then attaches. Owner of
// r.c only.
func (l *loop) claimAttach(r attachReq) {
	r.claimed = true
	l.srv.cluster.Claim(r.id, r.clean, func(state []byte, commit func(func()) bool) {
		l.post(func() {
			l.now = time.Now()
			ran := commit(func() {
				if state != nil && !r.clean {
					l.adopt(r.id, state)
				}
				l.attach(r)
			})
			if !ran && r.c.state == stateAttaching {
				if l.srv.logInfo {
					l.srv.log.Info("closing connection", "client_id", r.id, "remote", addrString(r.c.remoteAddr()),
						"reason", "a newer CONNECT with the same client id on another node took the session")
				}
				r.c.end()
			}
		})
	})
}

// adopt installs a session handed over by another node, unless this node
// already has one for the id (then that one wins).
func (l *loop) adopt(id string, state []byte) {
	snap, err := decodeSession(state, l.now)
	if err != nil {
		l.srv.log.Warn("cluster: session handed over by another node dropped", "client_id", id, "err", err)
		return
	}
	s, created := l.srv.sessions.getOrCreate(id, l)
	if !created {
		return
	}
	l.install(s, snap)
	l.persistAdopted(s) // with a store, durable here as it was there
}

// ReleaseForCluster is called by the cluster when another node claims id:
// the connection holding it here is closed (DISCONNECT Session taken over
// for v5; its will runs unless a v5 will delay goes on with the session),
// and reply gets the session's state when it persists (clean false and an
// expiry), else nil. The session leaves this node. Safe from any goroutine;
// reply runs on a loop and must not block.
func (srv *Server) ReleaseForCluster(id string, clean bool, reply func(state []byte)) {
	s := srv.sessions.get(id)
	if s == nil {
		reply(nil)
		return
	}
	srv.postToOwner(s, func(l *loop) { reply(l.release(s, clean)) })
}

// release closes s's connection and drops s, returning its state when it
// should continue elsewhere. Owner only.
func (l *loop) release(s *session, clean bool) []byte {
	if s.removed {
		return nil
	}
	l.now = time.Now()
	keep := !clean && s.expiry != 0
	if old := s.c; old != nil {
		old.tookOver = true
		if w := old.takeWill(); w != nil && (w.delay == 0 || !keep) {
			l.publishWill(w)
		}
		if l.srv.logInfo {
			l.srv.log.Info("session taken over by another node", "client_id", s.id, "old_remote", addrString(old.remoteAddr()))
		}
		l.disconnect(old, codec.SessionTakenOver)
		old.sess = nil
		s.c = nil
		s.setFlag(flagConnected, false)
	}
	var state []byte
	if keep {
		state = appendSession(nil, s, l.now)
		s.st = nil // handed over, not redistributed to shared groups here
	} else if st := s.st; st != nil && st.pendingWill != nil {
		w := st.pendingWill
		st.pendingWill = nil
		l.publishWill(w)
	}
	l.dropSession(s)
	return state
}
