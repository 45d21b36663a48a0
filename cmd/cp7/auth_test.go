package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/auth"
	"github.com/cp7/cp7/server/servertest"
)

func init() { customSamples["allow-anonymous"] = "false" }

const authWait = servertest.Timeout

// authBroker starts cp7's server with these flags (listeners other than
// TCP off, TCP on a free loopback port) and returns it with its auth group.
func authBroker(t *testing.T, args ...string) (*server.Server, *authFlags) {
	t.Helper()
	args = append([]string{"-listen", "127.0.0.1:0", "-event-loops", "2", "-tls-listen", "", "-ws-listen", "", "-wss-listen", ""}, args...)
	o, err := parseFlagsEnv(args, func(string) string { return "" })
	require.NoError(t, err)
	var af *authFlags
	for _, g := range o.groups {
		if a, ok := g.(*authFlags); ok {
			af = a
		}
	}
	require.NotNil(t, af)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	require.NoError(t, af.prepare(o, log))
	var srv *server.Server
	for try := 0; ; try++ {
		srv, err = server.New(o.cfg, log)
		require.NoError(t, err)
		if err = srv.Start(); err == nil || try == 2 {
			break // a free port picked by ":0" can be taken by a parallel test before the loops bind it: retry
		}
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv, af
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// v3Login connects a paho.mqtt.golang (3.1.1) client; it returns the
// CONNACK return code (0 accepted) and disconnects in t.Cleanup.
func v3Login(t *testing.T, srv *server.Server, id, user, pass string) byte {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + srv.Addr().String()).SetClientID(id).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(authWait)
	if user != "" {
		opts.SetUsername(user)
	}
	if pass != "" {
		opts.SetPassword(pass)
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(authWait), "no CONNACK for %s", id)
	t.Cleanup(func() { c.Disconnect(0) })
	if ct, ok := tok.(*mqtt.ConnectToken); ok {
		return ct.ReturnCode()
	}
	return 0xFF
}

// v5Login connects a paho.golang (MQTT 5) client and returns the CONNACK
// reason code.
func v5Login(t *testing.T, srv *server.Server, id, user, pass string) byte {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.Addr().String(), authWait)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	c := paho.NewClient(paho.ClientConfig{Conn: nc, PacketTimeout: authWait})
	ctx, cancel := context.WithTimeout(context.Background(), authWait)
	defer cancel()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if pass != "" {
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	ack, err := c.Connect(ctx, cp)
	if ack == nil {
		require.NoError(t, err)
	}
	if ack.ReasonCode == 0 {
		t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	}
	return ack.ReasonCode
}

// cp7Passwd runs `cp7 passwd args...` with password on standard input.
func cp7Passwd(t *testing.T, password string, args ...string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "stdin")
	require.NoError(t, os.WriteFile(in, []byte(password+"\n"), 0o600))
	fh, err := os.Open(in)
	require.NoError(t, err)
	defer fh.Close()
	require.NoError(t, runPasswd(args, fh, testWriter{t}))
}

func mosquittoPasswdBin(t *testing.T) string {
	p, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto_passwd missing in CI: scripts/install-deps.sh installs mosquitto")
		}
		t.Skip("mosquitto_passwd not installed")
	}
	return p
}

// TestPasswordFileLogins: a file made by mosquitto_passwd ($7$), with users
// added by cp7 passwd (argon2id, $7$), admits each user with the right
// password over 3.1.1 (paho.mqtt.golang) and 5.0 (paho.golang), refuses
// wrong passwords, unknown users and anonymous clients, and deletes users.
func TestPasswordFileLogins(t *testing.T) {
	t.Parallel()
	mp := mosquittoPasswdBin(t)
	file := filepath.Join(t.TempDir(), "passwd")
	out, err := exec.Command(mp, "-c", "-b", file, "alice", "wonderland").CombinedOutput()
	require.NoError(t, err, "%s", out)
	cp7Passwd(t, "builder", file, "bob")
	cp7Passwd(t, "carrot", "-hash", "pbkdf2-sha512", file, "carol") // bcrypt is tested in server/auth/passwd (slow under -race)
	cp7Passwd(t, "x", "-hash", "pbkdf2-sha512", file, "gone")
	cp7Passwd(t, "", "-d", file, "gone")
	text, _ := os.ReadFile(file)
	require.NotContains(t, string(text), "gone:")
	require.NotContains(t, string(text), "builder", "no password in clear")
	fresh := filepath.Join(t.TempDir(), "new")
	cp7Passwd(t, "x", "-hash", "pbkdf2-sha512", fresh, "someone")
	st, err := os.Stat(fresh)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "cp7 passwd creates files readable by their owner only")

	srv, _ := authBroker(t, "-password-file", file)
	require.Equal(t, byte(0), v3Login(t, srv, "pf-alice", "alice", "wonderland"), "mosquitto's $7$ entry")
	require.Equal(t, byte(0), v3Login(t, srv, "pf-bob", "bob", "builder"), "cp7's argon2id entry")
	require.Equal(t, byte(0), v5Login(t, srv, "pf-carol", "carol", "carrot"), "cp7's $7$ entry over v5")
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "pf-wrong", "alice", "looking-glass"))
	require.Equal(t, byte(codec.BadUserNameOrPassword), v5Login(t, srv, "pf-wrong5", "bob", "nope"))
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "pf-unknown", "mallory", "x"))
	require.Equal(t, codec.ConnRefusedNotAuthorized, v3Login(t, srv, "pf-anon", "", ""), "anonymous refused once a method is configured")
	require.Equal(t, byte(codec.NotAuthorized), v5Login(t, srv, "pf-anon5", "", ""))

	srv2, _ := authBroker(t, "-password-file", file, "-allow-anonymous")
	require.Equal(t, byte(0), v3Login(t, srv2, "pf2-anon", "", ""), "-allow-anonymous lets them in")
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv2, "pf2-unknown", "mallory", "x"),
		"an unknown user is not anonymous (as in Mosquitto)")
}

func TestAnonymousDefaults(t *testing.T) {
	t.Parallel()
	srv, _ := authBroker(t)
	require.Equal(t, byte(0), v3Login(t, srv, "anon-default", "", ""), "no method configured: everyone")
	require.Equal(t, byte(0), v3Login(t, srv, "anon-default-user", "anyone", "anything"))
	srv2, _ := authBroker(t, "-allow-anonymous=false")
	require.Equal(t, codec.ConnRefusedNotAuthorized, v3Login(t, srv2, "anon-off", "", ""))
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv2, "anon-off-user", "anyone", "anything"))
}

// TestReloadPasswordFile: the SIGHUP hook re-reads the file without
// dropping connected clients; cached credentials of a changed password
// stop working; a broken file keeps the old one.
func TestReloadPasswordFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "passwd")
	cp7Passwd(t, "one", "-hash", "pbkdf2-sha512", file, "dora")
	srv, af := authBroker(t, "-password-file", file)
	stay := servertest.Dial(t, srv.Addr())
	p := servertest.NewConnect("rl-stay", true, 30)
	p.UsernameFlag, p.Username, p.PasswordFlag, p.Password = true, []byte("dora"), true, []byte("one")
	stay.MustConnect(p, false)
	require.Equal(t, byte(0), v3Login(t, srv, "rl-1", "dora", "one")) // now cached

	cp7Passwd(t, "two", "-hash", "pbkdf2-sha512", file, "dora")
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	af.reload(log)
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "rl-2", "dora", "one"), "the cache was cleared")
	require.Equal(t, byte(0), v3Login(t, srv, "rl-3", "dora", "two"))
	stay.Ping() // still connected

	require.NoError(t, os.WriteFile(file, []byte("dora:in-clear\n"), 0o600))
	af.reload(log)
	require.Equal(t, byte(0), v3Login(t, srv, "rl-4", "dora", "two"), "a broken file keeps the old one")
}

// TestSCRAMFromPasswordFile: a user written with -hash scram-sha-256 logs
// in with MQTT 5 SCRAM-SHA-256 and with a plain password; the file holds
// only salted keys.
func TestSCRAMFromPasswordFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "passwd")
	cp7Passwd(t, "wonderland", "-hash", "scram-sha-256", file, "alice")
	cp7Passwd(t, "builder", "-hash", "pbkdf2-sha512", file, "bob") // no SCRAM keys for bob
	srv, _ := authBroker(t, "-password-file", file)

	login := func(id, user, pass string) codec.Connack {
		cl := &server.SCRAMClient{User: user, Password: pass}
		p := servertest.NewConnect(id, true, 30)
		p.ProtocolVersion = codec.Version5
		p.Props.AuthMethod, p.Props.AuthData = []byte(server.SCRAMMethod), cl.First()
		p.Props.Set(codec.PropAuthMethod)
		p.Props.Set(codec.PropAuthData)
		c := servertest.Dial(t, srv.Addr())
		c.Version = codec.Version5
		c.Write(codec.AppendConnect(nil, p))
		pk := c.Expect(codec.AUTH)
		var a codec.Auth
		require.NoError(t, a.Decode(pk.Body()))
		final, err := cl.Final(a.Props.AuthData)
		require.NoError(t, err)
		au := codec.Auth{ReasonCode: codec.ContinueAuthentication}
		au.Props.AuthMethod, au.Props.AuthData = []byte(server.SCRAMMethod), final
		au.Props.Set(codec.PropAuthMethod)
		au.Props.Set(codec.PropAuthData)
		c.Write(codec.AppendAuth(nil, &au))
		ack := c.ExpectConnack()
		if ack.ReasonCode == codec.Success {
			require.True(t, cl.Verify(ack.Props.AuthData), "the server proves it holds alice's keys")
		}
		return ack
	}
	require.Equal(t, codec.Success, login("scram-ok", "alice", "wonderland").ReasonCode)
	require.Equal(t, codec.BadUserNameOrPassword, login("scram-bad", "alice", "nope").ReasonCode)
	require.Equal(t, codec.BadUserNameOrPassword, login("scram-bob", "bob", "builder").ReasonCode, "bob has no SCRAM keys")
	require.Equal(t, byte(0), v5Login(t, srv, "scram-plain", "alice", "wonderland"), "a SCRAM entry checks plain passwords too")
}

// jwtKeys writes an HS256 secret, an RSA and an EC public key to files and
// returns the files and the signing keys.
type jwtFixture struct {
	hsFile, rsFile, esFile, hs2File string
	hs, hs2                         []byte
	rs                              *rsa.PrivateKey
	es                              *ecdsa.PrivateKey
}

func newJWTFixture(t *testing.T) *jwtFixture {
	dir := t.TempDir()
	f := &jwtFixture{hs: []byte(strings.Repeat("k", 40)), hs2: []byte(strings.Repeat("n", 40))}
	f.hsFile, f.hs2File = filepath.Join(dir, "hs"), filepath.Join(dir, "hs2")
	require.NoError(t, os.WriteFile(f.hsFile, append(f.hs, '\n'), 0o600))
	require.NoError(t, os.WriteFile(f.hs2File, f.hs2, 0o600))
	var err error
	f.rs, err = rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	f.es, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	writePub := func(name string, pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
		return p
	}
	f.rsFile, f.esFile = writePub("rs.pem", &f.rs.PublicKey), writePub("es.pem", &f.es.PublicKey)
	return f
}

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

// TestJWTLogins: tokens signed by each algorithm's key log in; expired, not
// yet valid, wrongly signed tokens and a user name other than the claim's
// are refused; rotation by SIGHUP swaps the keys. (A 3.1.1 client cannot
// send a password without a user name, so paho.mqtt.golang sends the
// claim's; the v5 client sends none.)
func TestJWTLogins(t *testing.T) {
	t.Parallel()
	f := newJWTFixture(t)
	srv, af := authBroker(t, "-jwt-key", f.hsFile, "-jwt-key", f.rsFile, "-jwt-key", f.esFile, "-jwt-username-claim", "device")
	now := time.Now()
	ok := jwt.MapClaims{"device": "dev-1", "exp": now.Add(time.Hour).Unix(), "publish": []string{"dev/1/#"}}
	require.Equal(t, byte(0), v3Login(t, srv, "jwt-hs", "dev-1", sign(t, jwt.SigningMethodHS256, f.hs, ok)), "HS256")
	require.Equal(t, byte(0), v5Login(t, srv, "jwt-rs", "", sign(t, jwt.SigningMethodRS256, f.rs, ok)), "RS256 (v5, no user name)")
	require.Equal(t, byte(0), v3Login(t, srv, "jwt-es", "dev-1", sign(t, jwt.SigningMethodES256, f.es, ok)), "ES256 with the claim's user name")
	require.Equal(t, codec.ConnRefusedNotAuthorized, v3Login(t, srv, "jwt-other", "dev-2", sign(t, jwt.SigningMethodHS256, f.hs, ok)), "user name other than the claim")

	expired := jwt.MapClaims{"device": "dev-1", "exp": now.Add(-time.Minute).Unix()}
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "jwt-exp", "dev-1", sign(t, jwt.SigningMethodHS256, f.hs, expired)))
	within := jwt.MapClaims{"device": "dev-1", "exp": now.Add(-2 * time.Second).Unix()}
	require.Equal(t, byte(0), v3Login(t, srv, "jwt-leeway", "dev-1", sign(t, jwt.SigningMethodHS256, f.hs, within)), "expired within the leeway")
	early := jwt.MapClaims{"device": "dev-1", "nbf": now.Add(time.Minute).Unix()}
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "jwt-nbf", "dev-1", sign(t, jwt.SigningMethodHS256, f.hs, early)))
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "jwt-wrong", "dev-1", sign(t, jwt.SigningMethodHS256, f.hs2, ok)), "unknown key")
	none := jwt.NewWithClaims(jwt.SigningMethodNone, ok)
	ns, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "jwt-none", "dev-1", ns), "alg none")

	// Rotation: the HS key file now holds the new secret.
	old := sign(t, jwt.SigningMethodHS256, f.hs, ok)
	require.NoError(t, os.WriteFile(f.hsFile, f.hs2, 0o600))
	af.reload(slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	require.Equal(t, byte(0), v3Login(t, srv, "jwt-rot-new", "dev-1", sign(t, jwt.SigningMethodHS256, f.hs2, ok)))
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "jwt-rot-old", "dev-1", old), "the retired key (cache cleared too)")
	require.Equal(t, byte(0), v3Login(t, srv, "jwt-rot-rs", "dev-1", sign(t, jwt.SigningMethodRS256, f.rs, ok)), "the other keys stay")
}

// hookServer is a real net/http authentication service for tests.
type hookServer struct {
	*httptest.Server
	calls atomic.Int64
	delay atomic.Int64 // nanoseconds to wait before answering
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if d := h.delay.Load(); d > 0 {
			select {
			case <-time.After(time.Duration(d)):
			case <-r.Context().Done():
				return
			}
		}
		switch req["username"] {
		case "good":
			if req["password"] == "pw" {
				_, _ = w.Write([]byte(`{"result":"allow","publish":["good/#"]}`))
				return
			}
			_, _ = w.Write([]byte(`{"result":"deny"}`))
		case "blocked":
			w.WriteHeader(http.StatusForbidden)
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = w.Write([]byte(`{"result":"ignore"}`))
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// TestHTTPHook: the hook decides allow / deny / 403 / 204 / ignore, its
// decisions are cached (the service sees one call per credentials), and a
// service that does not answer in time is a failure decided by
// -auth-http-fail: closed refuses, open admits.
func TestHTTPHook(t *testing.T) {
	t.Parallel()
	hs := newHookServer(t)
	srv, _ := authBroker(t, "-auth-http-url", hs.URL, "-auth-http-timeout", "300ms", "-auth-cache-ttl", "0")
	require.Equal(t, byte(0), v3Login(t, srv, "http-good", "good", "pw"))
	require.Equal(t, byte(codec.NotAuthorized), v5Login(t, srv, "http-badpw", "good", "nope"))
	require.Equal(t, codec.ConnRefusedNotAuthorized, v3Login(t, srv, "http-403", "blocked", "x"))
	require.Equal(t, byte(0), v3Login(t, srv, "http-204", "empty", "x"))
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "http-ignore", "stranger", "x"), "ignored by the only method")
	calls := hs.calls.Load()
	require.Equal(t, int64(5), calls)
	for range 3 {
		require.Equal(t, byte(0), v3Login(t, srv, "http-good", "good", "pw"))
	}
	require.Equal(t, calls, hs.calls.Load(), "repeated credentials come from the decision cache")

	hs.delay.Store(int64(2 * time.Second))
	start := hs.calls.Load()
	require.Equal(t, byte(codec.ServerUnavailable), v5Login(t, srv, "http-slow", "good", "other"), "fail closed (the default)")
	srvOpen, _ := authBroker(t, "-auth-http-url", hs.URL, "-auth-http-timeout", "300ms", "-auth-http-fail", "open")
	require.Equal(t, byte(0), v3Login(t, srvOpen, "http-open", "good", "other2"), "fail open")
	require.Equal(t, start+2, hs.calls.Load())
}

// TestMethodsCombineInOrder: the password file knows alice; the HTTP hook
// is asked only for users the file does not know.
func TestMethodsCombineInOrder(t *testing.T) {
	t.Parallel()
	hs := newHookServer(t)
	file := filepath.Join(t.TempDir(), "passwd")
	cp7Passwd(t, "wonderland", "-hash", "pbkdf2-sha512", file, "alice")
	cp7Passwd(t, "secret", "-hash", "pbkdf2-sha512", file, "good")
	srv, _ := authBroker(t, "-password-file", file, "-auth-http-url", hs.URL)
	require.Equal(t, byte(0), v3Login(t, srv, "combo-alice", "alice", "wonderland"))
	require.Equal(t, codec.ConnRefusedBadUsernamePassword, v3Login(t, srv, "combo-good", "good", "pw"), "the file knows good: its password decides")
	require.Equal(t, int64(0), hs.calls.Load(), "the hook was not asked")
	require.Equal(t, byte(0), v3Login(t, srv, "combo-empty", "empty", "x"), "unknown to the file: the hook decides")
	require.Equal(t, int64(1), hs.calls.Load())
}

// TestAuthChainWiring: the flags build the chain in the documented order,
// certificate users with -tls-cn-username, and no authenticator at all
// when nothing is configured.
func TestAuthChainWiring(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	cp7Passwd(t, "x", "-hash", "pbkdf2-sha512", file, "u")
	f := newJWTFixture(t)
	o, err := parseFlagsEnv([]string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-client-ca", "ca.pem", "-tls-cn-username",
		"-password-file", file, "-jwt-key", f.hsFile, "-auth-http-url", "http://127.0.0.1:1/auth"}, func(string) string { return "" })
	require.NoError(t, err)
	ch, ok := o.cfg.Auth.(*auth.Chain)
	require.True(t, ok, "a chain is the authenticator")
	require.True(t, ch.CertUsers)
	require.False(t, ch.AllowAnonymous)
	var names []string
	for _, m := range ch.Methods {
		names = append(names, m.Name())
	}
	require.Equal(t, []string{"password-file", "jwt", "http"}, names)
	require.NotNil(t, ch.Cache)
	require.Len(t, o.cfg.EnhancedAuth, 1, "SCRAM from the password file")

	o, err = parseFlagsEnv(nil, func(string) string { return "" })
	require.NoError(t, err)
	require.Nil(t, o.cfg.Auth, "nothing configured: no authenticator, nothing on the CONNECT path")
	_, err = parseFlagsEnv([]string{"-auth-http-url", "http://x", "-auth-http-fail", "maybe"}, func(string) string { return "" })
	require.ErrorContains(t, err, "closed")
	_, err = parseFlagsEnv([]string{"-allow-anonymous=perhaps"}, func(string) string { return "" })
	require.Error(t, err)
}
