// Package jwtauth is the JWT authentication method: a client sends a JSON
// Web Token as its CONNECT password, signed with HS256, RS256 or ES256 by
// one of the configured keys (several at once, for rotation). exp and nbf
// are checked with a small leeway. A claim (default "sub") names the user;
// when the client also sends a user name it must be that user. The
// optional claims "publish" and "subscribe" (arrays of topic filters)
// become the client's topic rules (server.ClientRules), which the ACL
// applies.
package jwtauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/auth"
)

// Leeway is the clock skew allowed on exp and nbf.
const Leeway = 10 * time.Second

// DefaultUsernameClaim names the user when -jwt-username-claim is not set.
const DefaultUsernameClaim = "sub"

// keySet is the keys of one load, split by algorithm family.
type keySet struct {
	hmac  []jwt.VerificationKey
	rsa   []jwt.VerificationKey
	ecdsa []jwt.VerificationKey
}

// Verifier checks tokens. Safe for concurrent use; Reload swaps its keys.
type Verifier struct {
	files []string
	claim string
	keys  atomic.Pointer[keySet]
	now   func() time.Time // tests
	opts  []jwt.ParserOption
}

// New loads the key files: PEM RSA or EC public keys (PKIX "PUBLIC KEY",
// "RSA PUBLIC KEY" or a "CERTIFICATE"), or anything else as an HMAC
// secret (the file's bytes, trailing line breaks trimmed; 32 bytes at
// least). usernameClaim "" means "sub".
func New(files []string, usernameClaim string) (*Verifier, error) {
	if len(files) == 0 {
		return nil, errors.New("jwtauth: no key file: give -jwt-key FILE")
	}
	if usernameClaim == "" {
		usernameClaim = DefaultUsernameClaim
	}
	v := &Verifier{files: files, claim: usernameClaim, now: time.Now}
	v.opts = []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256", "RS256", "ES256"}), jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() })}
	if err := v.Reload(); err != nil {
		return nil, err
	}
	return v, nil
}

// Reload reads the key files again; on error the old keys stay in use.
func (v *Verifier) Reload() error {
	ks := &keySet{}
	for _, f := range v.files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("jwtauth: %w", err)
		}
		if err := ks.add(b); err != nil {
			return fmt.Errorf("jwtauth: key file %s: %w", f, err)
		}
	}
	v.keys.Store(ks)
	return nil
}

func (ks *keySet) add(b []byte) error {
	if blk, _ := pem.Decode(b); blk != nil {
		var pub any
		var err error
		switch blk.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
				pub = c.PublicKey
			}
		default:
			return fmt.Errorf("PEM block %q is not a public key: give a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE (never a private key)", blk.Type)
		}
		if err != nil {
			return err
		}
		switch k := pub.(type) {
		case *rsa.PublicKey:
			ks.rsa = append(ks.rsa, k)
		case *ecdsa.PublicKey:
			ks.ecdsa = append(ks.ecdsa, k)
		default:
			return fmt.Errorf("public key of type %T: use RSA (RS256) or EC P-256 (ES256)", pub)
		}
		return nil
	}
	secret := bytes.TrimRight(b, "\r\n")
	if len(secret) < 32 {
		return fmt.Errorf("HMAC secret of %d bytes is too short: use at least 32 random bytes", len(secret))
	}
	ks.hmac = append(ks.hmac, secret)
	return nil
}

// Name implements auth.Method.
func (v *Verifier) Name() string { return "jwt" }

// LooksLikeJWT reports whether p has a JWT's shape: three base64url parts
// whose first is a JSON header naming an algorithm. Only such passwords
// are this method's to decide.
func LooksLikeJWT(p []byte) bool {
	i := bytes.IndexByte(p, '.')
	if i <= 0 || bytes.Count(p, []byte{'.'}) != 2 {
		return false
	}
	hdr, err := base64.RawURLEncoding.DecodeString(string(p[:i]))
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(hdr, &h) == nil && h.Alg != ""
}

// Check implements auth.Method.
func (v *Verifier) Check(info *server.ConnInfo) auth.Result {
	if !LooksLikeJWT(info.Password) {
		return auth.Result{}
	}
	ks := v.keys.Load()
	mc := jwt.MapClaims{}
	var err error
	auth.CPUBound(func() { _, err = jwt.ParseWithClaims(string(info.Password), mc, v.keyFunc(ks), v.opts...) })
	if err != nil {
		return auth.Result{Decision: auth.Deny, Reason: codec.BadUserNameOrPassword}
	}
	return v.result(info, mc)
}

// keyFunc gives the parser the keys of the token's algorithm family: with
// several (rotation) each is tried.
func (v *Verifier) keyFunc(ks *keySet) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		switch t.Method.(type) {
		case *jwt.SigningMethodHMAC:
			return jwt.VerificationKeySet{Keys: ks.hmac}, nil
		case *jwt.SigningMethodRSA:
			return jwt.VerificationKeySet{Keys: ks.rsa}, nil
		case *jwt.SigningMethodECDSA:
			return jwt.VerificationKeySet{Keys: ks.ecdsa}, nil
		}
		return nil, fmt.Errorf("jwtauth: algorithm %v not accepted", t.Header["alg"])
	}
}

// result turns verified claims into the decision.
func (v *Verifier) result(info *server.ConnInfo, mc jwt.MapClaims) auth.Result {
	user, _ := mc[v.claim].(string)
	if user == "" || (len(info.Username) > 0 && string(info.Username) != user) {
		return auth.Result{Decision: auth.Deny, Reason: codec.NotAuthorized}
	}
	r := auth.Result{Decision: auth.Allow, User: user, CacheFor: 365 * 24 * time.Hour}
	if exp, err := mc.GetExpirationTime(); err == nil && exp != nil {
		r.CacheFor = exp.Time.Sub(v.now()) // a cached token expires with itself
		if r.CacheFor <= 0 {
			r.CacheFor = 0 // inside the leeway: allowed, not cached
		}
	}
	pub, okP := filters(mc["publish"])
	sub, okS := filters(mc["subscribe"])
	if !okP || !okS {
		return auth.Result{Decision: auth.Deny, Reason: codec.NotAuthorized}
	}
	if pub != nil || sub != nil {
		// A claim that is absent stays nil (no rule of that kind from the
		// token); an empty array is an empty list.
		r.Rules = &server.ClientRules{Publish: pub, Subscribe: sub}
	}
	return r
}

// filters reads a claim that must be an array of strings (or absent).
func filters(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok || s == "" {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
