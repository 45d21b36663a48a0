package server

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/cp7/cp7/codec"
)

// onConnect handles CONNECT [MQTT-3.1]: it validates the request, answers a
// refusal with the right CONNACK, and otherwise starts attaching the session
// (which may live on another loop) and stops reading until it is attached.
func (l *loop) onConnect(c *client, p *codec.Connect) error {
	cfg := &l.srv.cfg
	c.version = p.ProtocolVersion
	v5 := p.ProtocolVersion == codec.Version5
	if v5 {
		c.v5 = &v5state{receiveMax: 65535, problemInfo: true}
	}
	id := string(p.ClientID)
	var assigned bool
	if id == "" {
		switch {
		case v5:
			assigned = true // [MQTT-3.1.3-6] any Clean Start; told in CONNACK
		case p.ProtocolVersion == codec.Version311 && p.CleanStart:
			assigned = true // [MQTT-3.1.3-6]
		default:
			// 3.1.1 with clean session 0 [MQTT-3.1.3-8], and 3.1, which
			// requires an id of 1 to 23 characters.
			return l.refuse(c, codec.ClientIdentifierNotValid, "empty client id without clean session")
		}
		id = newClientID()
	}
	if len(id) > cfg.MaxClientIDLen {
		return l.refuse(c, codec.ClientIdentifierNotValid, "client id longer than the maximum")
	}
	if cn := c.commonName(); cfg.CNAsUsername && cn != "" {
		p.Username, p.UsernameFlag = []byte(cn), true
	}
	if len(p.Username) > 0 {
		c.ext().user = string(p.Username)
	}

	keepAlive := p.KeepAlive
	serverKeepAlive := false
	if max := cfg.MaxKeepAlive; max > 0 && (keepAlive == 0 || keepAlive > max) {
		if !v5 {
			// 3.1.1 cannot tell the client the limit: refuse, as Mosquitto does.
			return l.refuse(c, codec.ClientIdentifierNotValid, "keepalive above the server's maximum")
		}
		keepAlive, serverKeepAlive = max, true // [MQTT-3.2.2-21]
	}
	c.keepAlive = keepAlive

	var expiry uint32
	if v5 {
		v := c.v5
		if p.Props.Has(codec.PropReceiveMaximum) {
			v.receiveMax = p.Props.ReceiveMaximum
		}
		v.maxPacket = p.Props.MaximumPacketSize
		v.aliasMaxOut = p.Props.TopicAliasMaximum
		if p.Props.Has(codec.PropRequestProblemInfo) {
			v.problemInfo = p.Props.RequestProblemInfo == 1
		}
		expiry = p.Props.SessionExpiry
		if cfg.MaxSessionExpiry > 0 && expiry > cfg.MaxSessionExpiry {
			expiry = cfg.MaxSessionExpiry
		}
	} else if !p.CleanStart {
		expiry = 0xFFFFFFFF // 3.1.1 clean session 0: the session outlives the connection
		if cfg.MaxSessionExpiry > 0 {
			// As Mosquitto's persistent_client_expiration: a 3.1.1 client
			// that never returns does not hold its session forever.
			expiry = cfg.MaxSessionExpiry
		}
	}

	if p.WillFlag {
		if !validWillTopic(p.WillTopic) {
			return l.refuse(c, codec.TopicNameInvalid, "invalid will topic")
		}
		if !cfg.topicWithin(p.WillTopic) {
			l.srv.limitHit(limTopic, id, addrString(c.remoteAddr()), "will topic above the maximum levels or length")
			return l.refuse(c, codec.TopicNameInvalid, "will topic has more levels or bytes than the server allows")
		}
		if p.WillProps.Has(codec.PropResponseTopic) && !validWillTopic(p.WillProps.ResponseTopic) {
			return l.refuse(c, codec.ProtocolError, "will Response Topic with wildcards") // [MQTT-3.1.3-11]
		}
		if p.WillQoS > cfg.MaxQoS {
			return l.refuse(c, codec.QoSNotSupported, "will QoS above the server's maximum") // [MQTT-3.2.2-12]
		}
		if p.WillRetain && !cfg.RetainAvailable {
			return l.refuse(c, codec.RetainNotSupported, "will retain while retain is unavailable") // [MQTT-3.2.2-13]
		}
	}

	if st := cfg.Store; st != nil && expiry != 0 && !st.Accepting() {
		l.event(evRefusedStore)
		return l.refuse(c, codec.QuotaExceeded, "the store cannot take a persistent session now (disk full or store error)")
	}
	if p.WillFlag {
		c.ext().will = newWill(p, l)
	}
	req := attachReq{c: c, id: id, target: l, clean: p.CleanStart, expiry: expiry,
		assigned: assigned, serverKeepAlive: serverKeepAlive}
	if v5 && p.Props.Has(codec.PropAuthMethod) {
		return l.beginAuth(c, p, req)
	}
	if cfg.Auth != nil {
		return l.authenticate(c, p, req) // may wait for a worker: server/authcheck.go
	}
	c.state = stateAttaching
	l.attach(req)
	return nil
}

// attachReq carries a CONNECT's session request to the session's owner.
type attachReq struct {
	c               *client
	id              string
	target          *loop // the loop of the new connection
	clean           bool
	expiry          uint32
	assigned        bool
	serverKeepAlive bool
	authMethod      string // enhanced authentication: echoed in CONNACK
	authData        []byte
	claimed         bool // the cluster was asked for the id (clustersession.go)
}

// attach finds or creates the client id's session. A session owned by this
// loop is taken over at once; one owned elsewhere is taken over by a task on
// its owner, which then posts the attach back here.
func (l *loop) attach(r attachReq) {
	if l.srv.cluster != nil && !r.claimed {
		l.claimAttach(r)
		return
	}
	s, created := l.srv.sessions.getOrCreate(r.id, l)
	if created {
		l.finishAttach(r, s, false)
		return
	}
	l.srv.postToOwner(s, func(owner *loop) { owner.takeOver(s, r) })
}

// takeOver runs on the session's owner: it closes the connection that holds
// the session [MQTT-3.1.4-2], applies clean start, and hands the session to
// the loop of the new connection.
func (l *loop) takeOver(s *session, r attachReq) {
	if s.removed {
		// The session ended while the request travelled: start over.
		r.target.post(func() { r.target.attach(r) })
		return
	}
	if old := s.c; old != nil {
		old.tookOver = true
		if w := old.takeWill(); w != nil {
			// The old connection ended without DISCONNECT: its will goes
			// out, unless (v5) a delay is pending that this resume cancels.
			if w.delay == 0 || r.clean || s.expiry == 0 {
				l.publishWill(w)
			}
		}
		if l.srv.logInfo {
			l.srv.log.Info("session taken over", "client_id", s.id, "old_remote", addrString(old.remoteAddr()), "new_remote", addrString(r.c.remoteAddr()))
		}
		l.disconnect(old, codec.SessionTakenOver)
		old.sess = nil
		s.c = nil
		s.setFlag(flagConnected, false)
	}
	present := !r.clean && s.expiry != 0
	if !present {
		l.clearSession(s)
	}
	if s.st != nil {
		s.st.pendingWill = nil // a resumed session cancels a delayed will [MQTT-3.1.3-9]
	}
	if r.target == l {
		l.finishAttach(r, s, present)
		return
	}
	s.onWheel = false
	s.owner.Store(r.target)
	t := r.target
	if l.sb != nil {
		// What this turn wrote about s (a clean start's delete) must reach
		// the store before anything the new owner writes about it.
		l.submitStore()
	}
	if !t.post(func() { t.finishAttach(r, s, present) }) {
		// The new connection's loop ended (its TLS/WebSocket connection
		// closed meanwhile): keep the session here, offline, so it neither
		// hangs on a dead loop nor skips its expiry.
		s.owner.Store(l)
		s.expiry = r.expiry
		l.sessionOffline(s)
	}
}

// finishAttach binds session s to the new connection and sends CONNACK. It
// runs on the new connection's loop, which now owns s.
func (l *loop) finishAttach(r attachReq, s *session, present bool) {
	c := r.c
	if s.owner.Load() != l || s.c != nil || s.removed {
		// A newer CONNECT for this client id took the session while this
		// attach was on its way (the take-over it sent ran first here):
		// the newer connection wins [MQTT-3.1.4-2], this one ends without
		// a CONNACK.
		if l.srv.logInfo {
			l.srv.log.Info("closing connection", "client_id", r.id, "remote", addrString(c.remoteAddr()),
				"reason", "a newer CONNECT with the same client id took the session")
		}
		c.end()
		return
	}
	if c.state != stateAttaching {
		// The new connection vanished while the session travelled.
		s.expiry = r.expiry
		l.sessionOffline(s)
		return
	}
	c.sess = s
	s.c = c
	s.expiry = r.expiry
	if l.srv.checkTopics {
		l.checkWill(c)
	}
	if s.st != nil {
		s.st.expireAt = 0
		l.trim(s)
	}
	l.saveSession(s)
	s.setFlag(flagConnected, true)
	l.writeConnack(c, r, present)
	c.state = stateConnected
	c.lastActive = l.now.UnixMilli()
	s.since = uint32(l.now.Unix())
	l.ctr.connects.Add(1)
	l.ctr.connected[c.listener()][versionIndex(c.version)].Add(1)
	if l.srv.logInfo {
		l.srv.log.Info("client connected", "client_id", s.id, "remote", addrString(c.remoteAddr()),
			"listener", listenerNames[c.listener()], "version", c.version, "keepalive", c.keepAlive, "session_present", present)
	}
	if due := secondsCeil(c.lastActive + keepAliveGrace(c.keepAlive)); c.keepAlive > 0 && due < int64(c.wheelDue) {
		// Only when sooner than the CONNECT-timeout entry, which otherwise
		// fires first and re-files at the keepalive deadline: one entry.
		l.wheel.add(c, due)
	}
	if present {
		l.resume(c, s)
	}
	if l.processing != c {
		// Attached by a task: parse what arrived behind the CONNECT.
		c.resumeInput()
	}
}

// writeConnack sends CONNACK, with the server's limits as properties for v5
// [MQTT-3.2.2.3].
func (l *loop) writeConnack(c *client, r attachReq, present bool) {
	cfg := &l.srv.cfg
	ack := codec.Connack{SessionPresent: present, ReasonCode: codec.Success}
	if c.v5 != nil {
		p := &ack.Props
		p.ReceiveMaximum = cfg.ReceiveMaximum
		p.Set(codec.PropReceiveMaximum)
		if cfg.MaxQoS < 2 {
			p.MaximumQoS = cfg.MaxQoS
			p.Set(codec.PropMaximumQoS)
		}
		if !cfg.RetainAvailable {
			p.RetainAvailable = 0
			p.Set(codec.PropRetainAvailable)
		}
		p.MaximumPacketSize = uint32(cfg.MaxPacketSize)
		p.Set(codec.PropMaximumPacketSize)
		p.TopicAliasMaximum = cfg.TopicAliasMaximum
		p.Set(codec.PropTopicAliasMaximum)
		if r.assigned {
			p.AssignedClientID = []byte(r.id)
			p.Set(codec.PropAssignedClientID)
		}
		if r.serverKeepAlive {
			p.ServerKeepAlive = c.keepAlive
			p.Set(codec.PropServerKeepAlive)
		}
		if cfg.MaxSessionExpiry > 0 && r.expiry == cfg.MaxSessionExpiry {
			p.SessionExpiry = r.expiry
			p.Set(codec.PropSessionExpiry)
		}
		if r.authMethod != "" {
			p.AuthMethod = []byte(r.authMethod)
			p.Set(codec.PropAuthMethod)
			if r.authData != nil {
				p.AuthData = r.authData
				p.Set(codec.PropAuthData)
			}
		}
		p.WildcardSubAvailable, p.SubIDAvailable, p.SharedSubAvailable = 1, 1, 1
		p.Set(codec.PropWildcardSubAvailable)
		p.Set(codec.PropSubIDAvailable)
		p.Set(codec.PropSharedSubAvailable)
	}
	c.setBuf(codec.AppendConnack(c.buf(), &ack, c.version))
}

// refuse answers a CONNECT with a failing CONNACK and closes [MQTT-3.2.2-5].
func (l *loop) refuse(c *client, rc codec.ReasonCode, why string) error {
	c.setWhy(closeRefused)
	ack := codec.Connack{ReasonCode: rc}
	if c.version != codec.Version5 {
		ack.ReasonCode = codec.ReasonCode(codec.V3ConnackCode(rc))
	}
	c.setBuf(codec.AppendConnack(c.buf(), &ack, c.version))
	return &connError{code: rc, msg: "connect refused: " + why, answered: true}
}

// newClientID makes an id for a client that sent none [MQTT-3.1.3-6]: unique
// and within the 23 characters every server accepts.
func newClientID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "cp7-" + hex.EncodeToString(b[:])[:19]
}

func validWillTopic(t []byte) bool {
	for _, ch := range t {
		if ch == '+' || ch == '#' {
			return false
		}
	}
	return len(t) > 0
}
