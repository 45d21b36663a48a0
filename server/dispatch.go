package server

import (
	"errors"

	"github.com/cp7/cp7/codec"
)

// connError ends a connection with a reason code. It is the one place where
// internal failures become MQTT 5 reason codes; codec errors carry theirs.
type connError struct {
	code     codec.ReasonCode
	msg      string
	answered bool   // a CONNACK already told the client
	clientID string // the id a refused CONNECT asked for, for the log
}

func (e *connError) Error() string { return "server: " + e.msg }

func protoErr(rc codec.ReasonCode, msg string) error { return &connError{code: rc, msg: msg} }

// reasonOf maps an error to the reason code sent in DISCONNECT (or CONNACK).
func reasonOf(err error) codec.ReasonCode {
	var ce *connError
	if errors.As(err, &ce) {
		return ce.code
	}
	var de *codec.Error
	if errors.As(err, &de) {
		return de.Code
	}
	return codec.UnspecifiedError
}

// process parses and handles every complete packet at the start of b, which
// borrows the transport's read buffer. It returns how many bytes it used and
// whether the connection must close now. It stops early while the session is
// being attached; the transport calls it again from resumeInput.
func (l *loop) process(c *client, b []byte) (consumed int, closeNow bool) {
	l.processing = c
	defer func() { l.processing = nil }()
	for consumed < len(b) {
		if c.state == stateAttaching || c.state == stateChecking || c.state == stateClosed || c.closing || c.inputPaused() || c.topicWaiting() {
			break
		}
		if c.x != nil && c.x.proxyPending {
			n, err := l.readProxyHeader(c, b[consumed:])
			if err != nil {
				l.fail(c, err)
				return consumed, true
			}
			if n == 0 {
				break // incomplete
			}
			consumed += n
			continue
		}
		h, err := codec.ParseFixedHeader(b[consumed:])
		if err == codec.ErrIncomplete {
			break
		}
		if err != nil {
			l.fail(c, err)
			return consumed, true
		}
		total := h.HeaderLen + h.Remaining
		if total > l.packetLimit(c) {
			// Refused before its body arrives, so nothing is buffered for it.
			if total <= l.srv.cfg.MaxPacketSize {
				l.clientLimit(limConnectPacket, c, "packet before CONNACK larger than the maximum connect packet")
				l.fail(c, protoErr(codec.PacketTooLarge, "packet before CONNACK larger than the maximum connect packet"))
				return consumed, true
			}
			l.fail(c, protoErr(codec.PacketTooLarge, "packet larger than the maximum packet size"))
			return consumed, true
		}
		if len(b)-consumed < total {
			break
		}
		body := b[consumed+h.HeaderLen : consumed+total : consumed+total]
		consumed += total
		if err := l.handle(c, h, body); err != nil {
			if err == errTopicWait || err == errTopicRetry {
				// Not handled: give the packet back, to handle again once
				// its topic decision is known (server/topiccheck.go).
				consumed -= total
				l.count.packetsIn--
				if err == errTopicWait {
					break
				}
				continue
			}
			l.fail(c, err)
			return consumed, true
		}
	}
	if consumed > 0 {
		l.count.netIn += uint64(consumed)
		c.lastActive = l.now.UnixMilli() // [MQTT-3.1.2-22] any packet counts
	}
	return consumed, false
}

// handle dispatches one packet. body is valid until process returns.
func (l *loop) handle(c *client, h codec.FixedHeader, body []byte) error {
	pk := &l.pkt
	if h.Type == codec.CONNECT {
		if c.state != stateNew {
			return protoErr(codec.ProtocolError, "second CONNECT") // [MQTT-3.1.0-2]
		}
		if err := pk.connect.Decode(body); err != nil {
			var de *codec.Error
			if errors.As(err, &de) && de.Code == codec.UnsupportedProtocolVersion {
				c.version = pk.connect.ProtocolVersion
				if c.version != codec.Version5 {
					c.version = codec.Version311
				}
				return l.refuse(c, codec.UnsupportedProtocolVersion, "unsupported protocol level") // [MQTT-3.1.2-2]
			}
			return err // [MQTT-3.1.2-1, 3.1.2-3] close without CONNACK
		}
		err := l.onConnect(c, &pk.connect)
		var ce *connError
		if err != nil && errors.As(err, &ce) && ce.clientID == "" {
			// No session is attached yet: name the client as it named itself.
			ce.clientID = string(pk.connect.ClientID)
		}
		return err
	}
	if c.state == stateAuth && h.Type == codec.AUTH {
		if err := pk.auth.Decode(body); err != nil {
			return err
		}
		return l.onAuth(c, &pk.auth)
	}
	if c.state != stateConnected {
		return protoErr(codec.ProtocolError, "packet before CONNECT, or before authentication ended") // [MQTT-3.1.0-1, 4.12.0-2]
	}
	l.count.packetsIn++
	switch h.Type {
	case codec.PUBLISH:
		if err := pk.publish.Decode(h.Flags, body, c.version); err != nil {
			return err
		}
		q := min(pk.publish.QoS, 2)
		l.count.msgsIn[q]++
		l.count.bytesIn[q] += uint64(h.HeaderLen + h.Remaining)
		return l.onPublish(c, &pk.publish)
	case codec.PUBACK, codec.PUBREC, codec.PUBCOMP:
		if err := pk.ack.Decode(h.Type, body, c.version); err != nil {
			return err
		}
		l.onAck(c, &pk.ack)
	case codec.PUBREL:
		if err := pk.ack.Decode(h.Type, body, c.version); err != nil {
			return err
		}
		l.onPubrel(c, &pk.ack)
	case codec.SUBSCRIBE:
		if err := pk.sub.Decode(body, c.version); err != nil {
			return err
		}
		return l.onSubscribe(c, &pk.sub)
	case codec.UNSUBSCRIBE:
		if err := pk.unsub.Decode(body, c.version); err != nil {
			return err
		}
		l.onUnsubscribe(c, &pk.unsub)
	case codec.PINGREQ:
		if err := codec.CheckEmpty(h); err != nil {
			return err
		}
		c.setBuf(codec.AppendPingresp(c.buf())) // [MQTT-3.12.4-1]
		l.checkResponses(c)
	case codec.DISCONNECT:
		if err := pk.disc.Decode(body, c.version); err != nil {
			return err
		}
		return l.onDisconnect(c, &pk.disc)
	case codec.AUTH:
		if c.v5 == nil {
			return protoErr(codec.ProtocolError, "AUTH packet on an MQTT 3 connection")
		}
		if err := pk.auth.Decode(body); err != nil {
			return err
		}
		return l.onAuth(c, &pk.auth)
	default:
		return protoErr(codec.ProtocolError, "packet type "+h.Type.String()+" is not sent by clients")
	}
	return nil
}

// onDisconnect handles a client's DISCONNECT [MQTT-3.14]: the will is
// discarded [MQTT-3.14.4-3] unless a v5 client asks for it (0x04), and a v5
// client may change the session expiry [MQTT-3.14.2-2].
func (l *loop) onDisconnect(c *client, p *codec.Disconnect) error {
	if c.v5 != nil {
		if p.Props.Has(codec.PropSessionExpiry) {
			if c.sess.expiry == 0 && p.Props.SessionExpiry != 0 {
				return protoErr(codec.ProtocolError, "DISCONNECT sets a session expiry after connecting with 0") // [MQTT-3.14.2-2]
			}
			c.sess.expiry = p.Props.SessionExpiry
		}
		if p.ReasonCode == codec.DisconnectWithWillMessage {
			c.setWhy(closeClient)
			c.end()
			return nil
		}
	}
	c.setWhy(closeClient)
	c.graceful = true
	c.takeWill()
	c.end()
	return nil
}

// fail ends a connection because of err: a v5 client that is connected
// first gets DISCONNECT with the reason [MQTT-4.13.1-1]; the event is logged
// with the client id and reason. No other client is affected.
func (l *loop) fail(c *client, err error) {
	l.event(evProtocolError)
	c.setWhy(closeProtocol)
	rc := reasonOf(err)
	var ce *connError
	isConnErr := errors.As(err, &ce)
	answered := isConnErr && ce.answered
	if l.srv.logInfo {
		id := c.clientID()
		if id == "" && isConnErr {
			id = ce.clientID
		}
		l.srv.log.Info("closing connection", "client_id", id, "remote", addrString(c.remoteAddr()),
			"reason", err.Error(), "code", rc.String())
	}
	if !answered && c.v5 != nil && c.state == stateConnected {
		l.disconnectWhy(c, rc, err.Error())
		return
	}
	c.end()
}

// disconnect ends c, telling a v5 client why [MQTT-3.14.1].
func (l *loop) disconnect(c *client, rc codec.ReasonCode) { l.disconnectWhy(c, rc, "") }

// disconnectWhy is disconnect with a Reason String for the client's logs
// (allowed on DISCONNECT whatever Request Problem Information says
// [MQTT-3.1.2-29]).
func (l *loop) disconnectWhy(c *client, rc codec.ReasonCode, why string) {
	switch rc {
	case codec.ServerShuttingDown:
		c.setWhy(closeShutdown)
	case codec.AdministrativeAction:
		c.setWhy(closeKicked)
	case codec.ServerBusy:
		c.setWhy(closeSlow)
	case codec.SessionTakenOver:
		c.setWhy(closeTakenOver)
	case codec.KeepAliveTimeout:
		c.setWhy(closeKeepAlive)
	}
	if c.v5 != nil && c.state == stateConnected && !c.closing {
		d := codec.Disconnect{ReasonCode: disconnectCode(rc)}
		if why != "" && (c.v5.maxPacket == 0 || len(why)+16 <= int(c.v5.maxPacket)) { // [MQTT-3.1.2-25]
			d.Props.ReasonString = []byte(why)
			d.Props.Set(codec.PropReasonString)
		}
		c.setBuf(codec.AppendDisconnect(c.buf(), &d, codec.Version5))
	}
	c.end()
}

// closed runs on the owner loop once a connection has ended, however it
// ended: the will of an abnormal end, and the session's fate.
func (l *loop) closed(c *client) {
	if c.state == stateClosed {
		return
	}
	prev := c.state
	c.state = stateClosed
	c.closing = true
	if c.out != nil {
		c.out.B = c.out.B[:0]
	}
	why := c.why
	if why == closeUnknown {
		switch {
		case c.tookOver:
			why = closeTakenOver
		case c.graceful:
			why = closeClient
		default:
			why = closeLost
		}
	}
	l.ctr.closes[why].Add(1)
	if prev == stateConnected {
		l.ctr.connected[c.listener()][versionIndex(c.version)].Add(-1)
	}
	s := c.sess
	c.sess = nil
	if prev != stateConnected || s == nil {
		return // no session yet, or finishAttach will find the connection gone
	}
	if s.c == c {
		s.c = nil
		s.setFlag(flagConnected, false)
	}
	if l.srv.logDebug {
		l.srv.log.Debug("client disconnected", "client_id", s.id, "remote", addrString(c.remoteAddr()),
			"listener", listenerNames[c.listener()], "reason", closeNames[why])
	}
	if c.tookOver {
		return // the session lives on with the new connection
	}
	if !c.graceful {
		l.onConnectionLost(c, s)
	}
	l.sessionOffline(s)
}

// sessionOffline decides what happens to a session whose connection ended:
// removed at once with expiry 0, else kept until its expiry interval passes
// (0xFFFFFFFF: never) [MQTT-3.1.2-23]. Owner only.
func (l *loop) sessionOffline(s *session) {
	if s.expiry == 0 {
		if st := s.st; st != nil && st.pendingWill != nil {
			w := st.pendingWill
			st.pendingWill = nil
			l.publishWill(w)
		}
		l.dropSession(s)
		return
	}
	if s.expiry != 0xFFFFFFFF {
		l.stateOf(s).expireAt = l.now.Unix() + int64(s.expiry) + 1 // whole seconds: late by < 1 s, never early
	} else if s.st != nil {
		s.st.expireAt = 0
	}
	l.saveSession(s) // the expiry is wall-clock and survives a restart
	if p := l.srv.parking; p != nil && l.ephemeral {
		// This loop ends with its connection: park the session on the
		// server's long-lived loop.
		s.onWheel = false
		s.owner.Store(p)
		if l.sb != nil {
			l.submitStore() // before anything the parking loop writes about s
		}
		p.post(func() { p.scheduleOffline(s) })
		return
	}
	l.scheduleOffline(s)
}

// disconnectCode maps a failure to a reason code DISCONNECT may carry
// (MQTT 5 §3.14.2.1): authentication failures become Not authorized, packet
// identifier errors Protocol Error, anything else unknown Unspecified error.
func disconnectCode(rc codec.ReasonCode) codec.ReasonCode {
	switch rc {
	case 0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90,
		0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2:
		return rc
	case codec.BadUserNameOrPassword, codec.Banned, codec.BadAuthenticationMethod:
		return codec.NotAuthorized
	case codec.PacketIdentifierInUse, codec.PacketIdentifierNotFound:
		return codec.ProtocolError
	}
	return codec.UnspecifiedError
}
