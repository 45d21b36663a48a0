package server_test

import (
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/servertest"
)

// v5Auth writes an AUTH packet with reason rc, the method and data.
func v5Auth(c *servertest.Conn, rc codec.ReasonCode, method string, data []byte) {
	a := codec.Auth{ReasonCode: rc}
	a.Props.AuthMethod = []byte(method)
	a.Props.Set(codec.PropAuthMethod)
	if data != nil {
		a.Props.AuthData = data
		a.Props.Set(codec.PropAuthData)
	}
	c.Write(codec.AppendAuth(nil, &a))
}

// v5ExpectAuth reads the next packet and fails unless it is an AUTH with
// reason rc and the method; it returns the Authentication Data.
func v5ExpectAuth(t *testing.T, c *servertest.Conn, rc codec.ReasonCode, method string) []byte {
	t.Helper()
	pk := c.Expect(codec.AUTH)
	var a codec.Auth
	if err := a.Decode(pk.Body()); err != nil {
		t.Fatalf("bad AUTH %v: %v", pk, err)
	}
	if a.ReasonCode != rc || string(a.Props.AuthMethod) != method {
		t.Fatalf("AUTH reason %v method %q, want %v and %q [MQTT-4.12.0-5]", a.ReasonCode, a.Props.AuthMethod, rc, method)
	}
	return a.Props.AuthData
}

// TestV5EnhancedAuth checks MQTT 5 enhanced authentication [MQTT-4.12] with
// the broker's SCRAM-SHA-256: the CONNECT / AUTH 0x18 / AUTH 0x18 / CONNACK
// exchange with the server's proof in CONNACK, a wrong password and an
// unknown method refused in CONNACK, and re-authentication (AUTH 0x19) of a
// connected client, which fails with a DISCONNECT.
func TestV5EnhancedAuth(t *testing.T) {
	t.Parallel()
	scram := server.NewSCRAM()
	if err := scram.AddUser("alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	srv := v5Start(t, func(cfg *server.Config) {
		cfg.EnhancedAuth = []server.EnhancedAuthenticator{scram}
	})
	method := server.SCRAMMethod

	// begin sends a CONNECT that starts a SCRAM exchange as user/pass.
	begin := func(t *testing.T, id, user, pass string) (*servertest.Conn, *server.SCRAMClient) {
		t.Helper()
		cl := &server.SCRAMClient{User: user, Password: pass}
		p := v5ConnectPacket(id, true, 0)
		p.Props.AuthMethod, p.Props.AuthData = []byte(method), cl.First()
		p.Props.Set(codec.PropAuthMethod)
		p.Props.Set(codec.PropAuthData)
		c := servertest.Dial(t, srv.Addr())
		c.Version = codec.Version5
		c.Write(codec.AppendConnect(nil, p))
		return c, cl
	}

	// login runs the whole exchange and returns the connected client.
	login := func(t *testing.T, id string) *servertest.Conn {
		t.Helper()
		c, cl := begin(t, id, "alice", "wonderland")
		final, err := cl.Final(v5ExpectAuth(t, c, codec.ContinueAuthentication, method))
		if err != nil {
			t.Fatalf("client-final: %v", err)
		}
		v5Auth(c, codec.ContinueAuthentication, method, final)
		ack := c.ExpectConnack()
		if ack.ReasonCode != codec.Success {
			t.Fatalf("CONNACK %v, want Success", ack.ReasonCode)
		}
		// [MQTT-3.2.2.3.17] CONNACK names the method, and carries the
		// server-final message that proves the server knew the password.
		if string(ack.Props.AuthMethod) != method || !cl.Verify(ack.Props.AuthData) {
			t.Fatalf("CONNACK method %q data %q: want %q and a server signature the client verifies",
				ack.Props.AuthMethod, ack.Props.AuthData, method)
		}
		return c
	}

	t.Run("exchange succeeds", func(t *testing.T) {
		t.Parallel()
		c := login(t, "auth-ok")
		c.Ping()
	})

	t.Run("wrong password refused", func(t *testing.T) {
		t.Parallel()
		c, cl := begin(t, "auth-bad", "alice", "looking-glass")
		final, err := cl.Final(v5ExpectAuth(t, c, codec.ContinueAuthentication, method))
		if err != nil {
			t.Fatalf("client-final: %v", err)
		}
		v5Auth(c, codec.ContinueAuthentication, method, final)
		ack := c.ExpectConnack()
		if ack.ReasonCode != codec.BadUserNameOrPassword {
			t.Fatalf("CONNACK %v, want %v", ack.ReasonCode, codec.BadUserNameOrPassword)
		}
		c.ExpectClosed(v5Wait)
	})

	t.Run("unknown method refused", func(t *testing.T) {
		t.Parallel()
		p := v5ConnectPacket("auth-method", true, 0)
		p.Props.AuthMethod = []byte("KERBEROS-BY-CARRIER-PIGEON")
		p.Props.Set(codec.PropAuthMethod)
		c := servertest.Dial(t, srv.Addr())
		ack := c.Connect(p)
		if ack.ReasonCode != codec.BadAuthenticationMethod {
			t.Fatalf("CONNACK %v, want %v", ack.ReasonCode, codec.BadAuthenticationMethod)
		}
		c.ExpectClosed(v5Wait)
	})

	t.Run("PUBLISH during the exchange is a protocol error", func(t *testing.T) {
		t.Parallel()
		c, _ := begin(t, "auth-early", "alice", "wonderland")
		v5ExpectAuth(t, c, codec.ContinueAuthentication, method)
		v5Send(c, v5Msg{topic: "auth/early", payload: "x"}) // [MQTT-4.12.0-2]
		// No CONNACK was sent, so no DISCONNECT may be either: the broker just
		// closes [MQTT-3.2.0-2, 4.13.1].
		for _, pk := range c.ExpectClosed(v5Wait) {
			if pk.Type() == codec.DISCONNECT {
				t.Fatalf("got DISCONNECT %v before CONNACK", pk)
			}
		}
	})

	t.Run("re-authentication", func(t *testing.T) {
		t.Parallel()
		c := login(t, "auth-re")
		cl := &server.SCRAMClient{User: "alice", Password: "wonderland"}
		v5Auth(c, codec.ReAuthenticate, method, cl.First())
		final, err := cl.Final(v5ExpectAuth(t, c, codec.ContinueAuthentication, method))
		if err != nil {
			t.Fatalf("client-final: %v", err)
		}
		v5Auth(c, codec.ContinueAuthentication, method, final)
		if !cl.Verify(v5ExpectAuth(t, c, codec.Success, method)) {
			t.Fatalf("re-authentication's AUTH 0x00 lacks a server signature the client verifies")
		}
		c.Ping()

		// With another method: a Protocol Error [MQTT-4.12.1-1].
		v5Auth(c, codec.ReAuthenticate, "PLAIN", []byte("x"))
		v5ExpectDisconnect(t, c, codec.ProtocolError, v5Wait)
	})

	t.Run("failed re-authentication disconnects", func(t *testing.T) {
		t.Parallel()
		c := login(t, "auth-re-bad")
		cl := &server.SCRAMClient{User: "alice", Password: "looking-glass"}
		v5Auth(c, codec.ReAuthenticate, method, cl.First())
		final, err := cl.Final(v5ExpectAuth(t, c, codec.ContinueAuthentication, method))
		if err != nil {
			t.Fatalf("client-final: %v", err)
		}
		v5Auth(c, codec.ContinueAuthentication, method, final)
		// [MQTT-4.12.1-2] DISCONNECT with a reason code DISCONNECT may carry:
		// 0x87 Not authorized (0x86 exists only in CONNACK).
		v5ExpectDisconnect(t, c, codec.NotAuthorized, v5Wait)
	})
}
