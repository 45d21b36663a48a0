package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/auth/passwd"
)

// SCRAM-SHA-256 (RFC 5802, RFC 7677) as an MQTT 5 enhanced authentication
// method. The exchange, in Authentication Data:
//
//	CONNECT  client-first   "n,,n=<user>,r=<client nonce>"
//	AUTH 18  server-first   "r=<nonce>,s=<salt b64>,i=<iterations>"
//	AUTH 18  client-final   "c=biws,r=<nonce>,p=<proof b64>"
//	CONNACK  server-final   "v=<server signature b64>"
//
// The server stores only salted keys, never passwords.

// SCRAMMethod is the Authentication Method name.
const SCRAMMethod = "SCRAM-SHA-256"

// scramIterations is the PBKDF2 cost for credentials added with a password.
const scramIterations = 4096

type scramCred struct {
	salt       []byte
	iter       int
	storedKey  []byte
	serverKey  []byte
	fakeForBad bool
}

// SCRAM is the SCRAM-SHA-256 authenticator with its user table. The table
// holds salted keys only (RFC 5802 StoredKey and ServerKey), never
// passwords; SetKeys replaces it at once (a reload), safe while serving.
type SCRAM struct {
	users atomic.Pointer[map[string]*scramCred]
}

// SCRAMKeys are one user's salted SCRAM-SHA-256 credentials.
type SCRAMKeys struct {
	Salt                 []byte
	Iter                 int
	StoredKey, ServerKey []byte
}

// NewSCRAM returns an empty SCRAM-SHA-256 authenticator.
func NewSCRAM() *SCRAM {
	s := &SCRAM{}
	s.users.Store(&map[string]*scramCred{})
	return s
}

// AddUser derives and stores the salted keys for a user's password (tests
// and embedding programs; files hold keys, see LoadUsers).
func (s *SCRAM) AddUser(user, password string) error {
	if err := checkSCRAMUser(user); err != nil {
		return err
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	stored, server, err := passwd.SCRAMKeys([]byte(password), salt, scramIterations)
	if err != nil {
		return fmt.Errorf("server: SCRAM key for %q: %w", user, err)
	}
	old := *s.users.Load()
	m := make(map[string]*scramCred, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[user] = &scramCred{salt: salt, iter: scramIterations, storedKey: stored, serverKey: server}
	s.users.Store(&m)
	return nil
}

func checkSCRAMUser(user string) error {
	if user == "" || strings.ContainsAny(user, ",=") {
		return fmt.Errorf("server: SCRAM user name %q is empty or holds ',' or '=': choose a plain name", user)
	}
	return nil
}

// SetKeys replaces the user table with these salted keys.
func (s *SCRAM) SetKeys(users map[string]SCRAMKeys) {
	m := make(map[string]*scramCred, len(users))
	for u, k := range users {
		m[u] = &scramCred{salt: k.Salt, iter: k.Iter, storedKey: k.StoredKey, serverKey: k.ServerKey}
	}
	s.users.Store(&m)
}

// Len is the number of SCRAM users.
func (s *SCRAM) Len() int { return len(*s.users.Load()) }

// KeysOf returns the SCRAM entries of a password table (the
// $scram-sha-256$ lines; users with other hashes cannot use SCRAM).
func KeysOf(t passwd.Table) map[string]SCRAMKeys {
	m := make(map[string]SCRAMKeys)
	for u, e := range t {
		if e.Kind == passwd.SCRAMSHA256 && checkSCRAMUser(u) == nil {
			m[u] = SCRAMKeys{Salt: e.Salt, Iter: e.Iter, StoredKey: e.StoredKey, ServerKey: e.ServerKey}
		}
	}
	return m
}

// LoadUsers reads a password file (server/auth/passwd's format) and takes
// its SCRAM entries ("user:$scram-sha-256$iter$salt$storedkey$serverkey",
// written by `cp7 passwd -hash scram-sha-256`). A line holding a password
// in clear is refused.
func (s *SCRAM) LoadUsers(r io.Reader) error {
	t, err := passwd.Parse(r)
	if err != nil {
		return fmt.Errorf("server: SCRAM users: %w", err)
	}
	s.SetKeys(KeysOf(t))
	return nil
}

// Method implements EnhancedAuthenticator.
func (s *SCRAM) Method() string { return SCRAMMethod }

// Begin implements EnhancedAuthenticator.
func (s *SCRAM) Begin(*ConnInfo) AuthExchange { return &scramExchange{srv: s} }

type scramExchange struct {
	srv             *SCRAM
	step            int
	cred            *scramCred
	nonce           string
	clientFirstBare string
	serverFirst     string
}

var errSCRAM = codec.BadUserNameOrPassword

func (e *scramExchange) Step(data []byte) ([]byte, bool, codec.ReasonCode) {
	switch e.step {
	case 0:
		e.step = 1
		return e.first(string(data))
	case 1:
		e.step = 2
		return e.final(string(data))
	}
	return nil, false, codec.ProtocolError
}

// first answers the client-first message.
func (e *scramExchange) first(msg string) ([]byte, bool, codec.ReasonCode) {
	// gs2 header: no channel binding ("n,," or "y,,"); no authzid.
	if !strings.HasPrefix(msg, "n,,") && !strings.HasPrefix(msg, "y,,") {
		return nil, false, codec.BadAuthenticationMethod
	}
	e.clientFirstBare = msg[3:]
	var user, cnonce string
	for _, attr := range strings.Split(e.clientFirstBare, ",") {
		switch {
		case strings.HasPrefix(attr, "n="):
			user = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(attr[2:])
		case strings.HasPrefix(attr, "r="):
			cnonce = attr[2:]
		}
	}
	if user == "" || cnonce == "" {
		return nil, false, codec.MalformedPacket
	}
	cred := (*e.srv.users.Load())[user]
	if cred == nil {
		// Go on with a made-up salt so an unknown user looks like a wrong
		// password (no user enumeration).
		salt := sha256.Sum256([]byte("cp7-unknown-user:" + user))
		cred = &scramCred{salt: salt[:16], iter: scramIterations, fakeForBad: true}
	}
	e.cred = cred
	snonce := make([]byte, 18)
	_, _ = rand.Read(snonce)
	e.nonce = cnonce + base64.RawStdEncoding.EncodeToString(snonce)
	e.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", e.nonce, base64.StdEncoding.EncodeToString(cred.salt), cred.iter)
	return []byte(e.serverFirst), false, codec.Success
}

// final checks the client's proof and returns the server signature.
func (e *scramExchange) final(msg string) ([]byte, bool, codec.ReasonCode) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, false, codec.MalformedPacket
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	var nonce, binding string
	for _, attr := range strings.Split(withoutProof, ",") {
		switch {
		case strings.HasPrefix(attr, "r="):
			nonce = attr[2:]
		case strings.HasPrefix(attr, "c="):
			binding = attr[2:]
		}
	}
	if nonce != e.nonce || (binding != "biws" && binding != "eSws") {
		return nil, false, errSCRAM
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size || e.cred.fakeForBad {
		return nil, false, errSCRAM
	}
	authMsg := []byte(e.clientFirstBare + "," + e.serverFirst + "," + withoutProof)
	sig := hmacSHA256(e.cred.storedKey, authMsg)
	clientKey := make([]byte, len(proof))
	for j := range proof {
		clientKey[j] = proof[j] ^ sig[j]
	}
	got := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(got[:], e.cred.storedKey) != 1 {
		return nil, false, errSCRAM
	}
	v := hmacSHA256(e.cred.serverKey, authMsg)
	return append([]byte("v="), base64.StdEncoding.EncodeToString(v)...), true, codec.Success
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// SCRAMClient is the client side of the exchange, for tests and tools.
type SCRAMClient struct {
	User, Password string
	nonce          string
	clientFirst    string
	serverSig      []byte
}

// First returns the client-first message (CONNECT's Authentication Data).
func (c *SCRAMClient) First() []byte {
	n := make([]byte, 18)
	_, _ = rand.Read(n)
	c.nonce = base64.RawStdEncoding.EncodeToString(n)
	c.clientFirst = "n=" + c.User + ",r=" + c.nonce
	return []byte("n,," + c.clientFirst)
}

// Final answers the server-first message with the client-final message.
func (c *SCRAMClient) Final(serverFirst []byte) ([]byte, error) {
	var nonce, saltB64 string
	iter := 0
	for _, attr := range strings.Split(string(serverFirst), ",") {
		switch {
		case strings.HasPrefix(attr, "r="):
			nonce = attr[2:]
		case strings.HasPrefix(attr, "s="):
			saltB64 = attr[2:]
		case strings.HasPrefix(attr, "i="):
			_, _ = fmt.Sscanf(attr[2:], "%d", &iter)
		}
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil || !strings.HasPrefix(nonce, c.nonce) || iter <= 0 {
		return nil, fmt.Errorf("server: bad SCRAM server-first message %q", serverFirst)
	}
	salted, err := pbkdf2.Key(sha256.New, c.Password, salt, iter, sha256.Size)
	if err != nil {
		return nil, err
	}
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	withoutProof := "c=biws,r=" + nonce
	authMsg := []byte(c.clientFirst + "," + string(serverFirst) + "," + withoutProof)
	sig := hmacSHA256(stored[:], authMsg)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.serverSig = hmacSHA256(hmacSHA256(salted, []byte("Server Key")), authMsg)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify checks the server-final message: the server knew the password too.
func (c *SCRAMClient) Verify(serverFinal []byte) bool {
	want := append([]byte("v="), base64.StdEncoding.EncodeToString(c.serverSig)...)
	return len(c.serverSig) > 0 && bytes.Equal(serverFinal, want)
}
