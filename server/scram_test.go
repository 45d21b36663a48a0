package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/auth/passwd"
)

func TestSCRAMExchange(t *testing.T) {
	s := NewSCRAM()
	// The users file holds salted keys only (cp7 passwd -hash scram-sha-256).
	a, err := passwd.Hash(passwd.SCRAMSHA256, []byte("wonderland"))
	require.NoError(t, err)
	b, err := passwd.Hash(passwd.SCRAMSHA256, []byte("builder"))
	require.NoError(t, err)
	require.NoError(t, s.LoadUsers(strings.NewReader("# users\nalice:"+a+"\n\nbob:"+b+"\n")))
	require.NotContains(t, a+b, "wonderland")

	cases := []struct {
		name, user, pass string
		ok               bool
	}{
		{"right password", "alice", "wonderland", true},
		{"second user", "bob", "builder", true},
		{"wrong password", "alice", "looking-glass", false},
		{"unknown user", "mallory", "wonderland", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := &SCRAMClient{User: tc.user, Password: tc.pass}
			ex := s.Begin(&ConnInfo{})
			first, done, rc := ex.Step(cl.First())
			require.Equal(t, codec.Success, rc)
			require.False(t, done)
			final, err := cl.Final(first)
			require.NoError(t, err)
			sig, done, rc := ex.Step(final)
			if !tc.ok {
				require.Equal(t, codec.BadUserNameOrPassword, rc)
				require.False(t, done)
				return
			}
			require.Equal(t, codec.Success, rc)
			require.True(t, done)
			require.True(t, cl.Verify(sig), "server signature must verify: the server knows the key")
		})
	}
}

func TestSCRAMRejectsBadMessages(t *testing.T) {
	s := NewSCRAM()
	require.NoError(t, s.AddUser("alice", "pw"))
	_, _, rc := s.Begin(nil).Step([]byte("p=tls-unique,,n=alice,r=abc"))
	require.Equal(t, codec.BadAuthenticationMethod, rc, "channel binding is not offered")
	_, _, rc = s.Begin(nil).Step([]byte("n,,r=abc"))
	require.Equal(t, codec.MalformedPacket, rc, "no user name")
	ex := s.Begin(nil)
	_, _, rc = ex.Step([]byte("n,,n=alice,r=abc"))
	require.Equal(t, codec.Success, rc)
	_, _, rc = ex.Step([]byte("c=biws,r=other-nonce,p=AAAA"))
	require.Equal(t, codec.BadUserNameOrPassword, rc, "a nonce that is not the server's")
	require.Error(t, s.LoadUsers(strings.NewReader("no-colon-here\n")))
	require.Error(t, s.LoadUsers(strings.NewReader("alice:wonderland\n")), "a password in clear is refused")
	require.Error(t, s.AddUser("a,b", "x"))
}
