package server

import (
	"github.com/cp7/cp7/codec"
)

// EnhancedAuthenticator is one MQTT 5 enhanced authentication method
// [MQTT-4.12], chosen by the Authentication Method a client names in
// CONNECT. Like Authenticator it runs on event loops and must not block.
type EnhancedAuthenticator interface {
	// Method is the Authentication Method name, e.g. "SCRAM-SHA-256".
	Method() string
	// Begin starts an exchange for a CONNECT or a re-authentication.
	Begin(info *ConnInfo) AuthExchange
}

// AuthExchange is one authentication in progress. Step is called with the
// Authentication Data of CONNECT, then of each AUTH packet. It returns the
// data to send back, whether the client is authenticated, and Success or
// the reason to refuse (BadUserNameOrPassword, NotAuthorized, ...).
type AuthExchange interface {
	Step(data []byte) (reply []byte, done bool, rc codec.ReasonCode)
}

// authState is a connection's exchange in progress. Owner only.
type authState struct {
	ex     AuthExchange
	method string
	req    attachReq // the CONNECT to complete once authenticated
	reauth bool      // re-authentication of a connected client [MQTT-4.12.1]
}

func (srv *Server) enhancedAuth(method []byte) EnhancedAuthenticator {
	for _, a := range srv.cfg.EnhancedAuth {
		if a.Method() == string(method) {
			return a
		}
	}
	return nil
}

// beginAuth starts enhanced authentication for a CONNECT [MQTT-4.12.0-1..4].
func (l *loop) beginAuth(c *client, p *codec.Connect, req attachReq) error {
	a := l.srv.enhancedAuth(p.Props.AuthMethod)
	if a == nil {
		return l.refuse(c, codec.BadAuthenticationMethod, "authentication method "+string(p.Props.AuthMethod)+" is not supported")
	}
	info := ConnInfo{ClientID: req.id, Username: p.Username, Password: p.Password,
		Remote: c.remoteAddr(), Version: c.version, CommonName: c.commonName()}
	st := &authState{ex: a.Begin(&info), method: a.Method(), req: req}
	c.ext().auth = st
	c.state = stateAuth
	return l.authStep(c, p.Props.AuthData)
}

// onAuth handles an AUTH packet: the next step of a CONNECT's exchange, or
// a re-authentication of a connected client.
func (l *loop) onAuth(c *client, p *codec.Auth) error {
	var st *authState
	if c.x != nil {
		st = c.x.auth
	}
	switch {
	case c.state == stateConnected && p.ReasonCode == codec.ReAuthenticate:
		if c.x == nil || c.x.authMethod == "" || string(p.Props.AuthMethod) != c.x.authMethod {
			return protoErr(codec.ProtocolError, "re-authentication with another method than CONNECT's") // [MQTT-4.12.1-1]
		}
		a := l.srv.enhancedAuth(p.Props.AuthMethod)
		info := ConnInfo{ClientID: c.clientID(), Username: []byte(c.username()), Remote: c.remoteAddr(), Version: c.version, CommonName: c.commonName()}
		c.x.auth = &authState{ex: a.Begin(&info), method: a.Method(), reauth: true}
		return l.authStep(c, p.Props.AuthData)
	case st == nil || p.ReasonCode != codec.ContinueAuthentication:
		return protoErr(codec.ProtocolError, "AUTH without an authentication in progress") // [MQTT-4.12.0-2]
	case string(p.Props.AuthMethod) != st.method:
		return protoErr(codec.ProtocolError, "AUTH names another authentication method") // [MQTT-4.12.0-5]
	}
	return l.authStep(c, p.Props.AuthData)
}

// authStep feeds the client's data to the exchange and answers: AUTH 0x18
// to continue, CONNACK (or AUTH 0x00 after re-authentication) when done, a
// refusal otherwise.
func (l *loop) authStep(c *client, data []byte) error {
	st := c.x.auth
	reply, done, rc := st.ex.Step(data)
	if rc != codec.Success {
		l.event(evAuthFailed)
		c.x.auth = nil
		if st.reauth {
			return protoErr(rc, "re-authentication failed") // [MQTT-4.12.1-2]
		}
		err := l.refuse(c, rc, "enhanced authentication failed")
		err.(*connError).clientID = st.req.id // the session was never attached
		return err
	}
	if !done {
		writeAuth(c, codec.ContinueAuthentication, st.method, reply)
		return nil
	}
	c.x.auth = nil
	c.x.authMethod = st.method
	if st.reauth {
		writeAuth(c, codec.Success, st.method, reply)
		return nil
	}
	req := st.req
	req.authMethod, req.authData = st.method, reply
	c.state = stateAttaching
	l.attach(req)
	return nil
}

// writeAuth appends an AUTH packet naming the method, with data if any.
func writeAuth(c *client, rc codec.ReasonCode, method string, data []byte) {
	a := codec.Auth{ReasonCode: rc}
	a.Props.AuthMethod = []byte(method)
	a.Props.Set(codec.PropAuthMethod)
	if data != nil {
		a.Props.AuthData = data
		a.Props.Set(codec.PropAuthData)
	}
	c.setBuf(codec.AppendAuth(c.buf(), &a))
}
