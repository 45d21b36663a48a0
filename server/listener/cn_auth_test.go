package listener_test

import (
	"path/filepath"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/auth"
	"github.com/cp7/cp7/server/auth/passwd"
	"github.com/cp7/cp7/server/servertest"
)

// TestCertificateUsersInTheChain: with cp7's authentication chain
// (-tls-cn-username and a password file), a client with a verified
// certificate is let in as its CN without a password, while a plain TCP
// client naming the same user without a certificate is not.
func TestCertificateUsersInTheChain(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "passwd")
	h, err := passwd.Hash(passwd.PBKDF2SHA512, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := passwd.SetUser(pwFile, "alice", h); err != nil {
		t.Fatal(err)
	}
	pf, err := passwd.Open(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, func(c *server.Config) {
		c.CNAsUsername = true
		c.Auth = &auth.Chain{CertUsers: true, Methods: []auth.Method{auth.PasswordFile{File: pf}}}
	})
	tc := dialClientCert(t, srv, 12, "device-42")
	servertest.Wrap(t, tc).MustConnect(servertest.NewConnect("cert-user", true, 30), false)

	plain := servertest.Dial(t, srv.Addr())
	p := servertest.NewConnect("cert-spoof", true, 30)
	p.UsernameFlag, p.Username = true, []byte("device-42")
	if ack := plain.Connect(p); ack.ReasonCode == codec.Success {
		t.Fatal("a plain TCP client naming the certificate's user got in without a certificate")
	}
	pw := servertest.Dial(t, srv.Addr())
	p = servertest.NewConnect("pw-user", true, 30)
	p.UsernameFlag, p.Username, p.PasswordFlag, p.Password = true, []byte("alice"), true, []byte("pw")
	pw.MustConnect(p, false)
}
