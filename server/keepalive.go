package server

// keepAliveGrace is how long a connection may stay silent, in milliseconds:
// one and a half times its keepalive [MQTT-3.1.2-24].
func keepAliveGrace(ka uint16) int64 { return int64(ka) * 1500 }

// secondsCeil turns Unix milliseconds into the wheel's second at or after it,
// so a deadline never fires early.
func secondsCeil(ms int64) int64 { return (ms + 999) / 1000 }

// expire implements timed for connections: the CONNECT timeout while the
// client has not connected, then the keepalive.
func (c *client) expire(l *loop, now int64) int64 {
	switch c.state {
	case stateClosed:
		return 0
	case stateNew, stateAuth, stateChecking, stateAttaching:
		deadline := secondsCeil(c.lastActive + l.srv.cfg.ConnectTimeout.Milliseconds())
		if c.state == stateAttaching || c.state == stateChecking {
			// Attaching waits on the session's owner loop, checking on an
			// auth worker; give it a second connect timeout before giving up.
			deadline += int64(l.srv.cfg.ConnectTimeout.Seconds())
		}
		if now >= deadline {
			l.event(evConnectTimeout)
			c.setWhy(closeConnectTimeout)
			if l.srv.logInfo {
				l.srv.log.Info("closing connection", "remote", addrString(c.remoteAddr()), "reason", "no CONNECT (or no end of authentication) within the connect timeout")
			}
			c.end()
			return 0
		}
		return deadline
	}
	if c.keepAlive == 0 || c.closing {
		return 0
	}
	deadline := secondsCeil(c.lastActive + keepAliveGrace(c.keepAlive))
	if now >= deadline {
		l.event(evKeepAliveTimeout)
		c.setWhy(closeKeepAlive)
		if l.srv.logInfo {
			l.srv.log.Info("closing connection", "client_id", c.clientID(), "remote", addrString(c.remoteAddr()), "reason", "keepalive timeout")
		}
		l.disconnect(c, 0x8D) // Keep Alive timeout [MQTT-3.1.2-24]
		return 0
	}
	return deadline
}
