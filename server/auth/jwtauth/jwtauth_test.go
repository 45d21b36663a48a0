package jwtauth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/auth"
)

func hsVerifier(t *testing.T) (*Verifier, []byte) {
	secret := []byte(strings.Repeat("s", 32))
	p := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(p, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := New([]string{p}, "")
	if err != nil {
		t.Fatal(err)
	}
	return v, secret
}

func token(t *testing.T, key []byte, c jwt.MapClaims) []byte {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// TestClaimsBecomeRules: the publish and subscribe claims become the
// client's ClientRules, the sub claim its user, and the cache time follows exp.
func TestClaimsBecomeRules(t *testing.T) {
	v, key := hsVerifier(t)
	exp := time.Now().Add(90 * time.Second)
	r := v.Check(&server.ConnInfo{Password: token(t, key, jwt.MapClaims{"sub": "dev-9", "exp": exp.Unix(),
		"publish": []string{"dev/9/up"}, "subscribe": []string{"dev/9/down/#", "all/+"}})})
	if r.Decision != auth.Allow || r.User != "dev-9" || r.Rules == nil {
		t.Fatalf("result %+v", r)
	}
	if strings.Join(r.Rules.Publish, ",") != "dev/9/up" || strings.Join(r.Rules.Subscribe, ",") != "dev/9/down/#,all/+" {
		t.Fatalf("rules %+v", r.Rules)
	}
	if r.CacheFor <= 0 || r.CacheFor > 91*time.Second {
		t.Fatalf("cached for %v, want until exp (about 90 s)", r.CacheFor)
	}
	r = v.Check(&server.ConnInfo{Password: token(t, key, jwt.MapClaims{"sub": "dev-9"})})
	if r.Decision != auth.Allow || r.Rules != nil {
		t.Fatalf("no rule claims: %+v", r)
	}
	r = v.Check(&server.ConnInfo{Password: token(t, key, jwt.MapClaims{"sub": "dev-9", "publish": "not-a-list"})})
	if r.Decision != auth.Deny {
		t.Fatalf("a malformed rule claim must refuse: %+v", r)
	}
	r = v.Check(&server.ConnInfo{Password: token(t, key, jwt.MapClaims{"exp": exp.Unix()})})
	if r.Decision != auth.Deny {
		t.Fatalf("no username claim must refuse: %+v", r)
	}
	if r := v.Check(&server.ConnInfo{Password: []byte("plain password")}); r.Decision != auth.Unknown {
		t.Fatalf("a password that is no JWT is not this method's: %+v", r)
	}
}

func TestKeyFilesRefused(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte("tiny"), 0o600)
	priv := filepath.Join(dir, "priv")
	_ = os.WriteFile(priv, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	for _, f := range []string{short, priv, filepath.Join(dir, "missing")} {
		if _, err := New([]string{f}, ""); err == nil {
			t.Fatalf("key file %s accepted", f)
		}
	}
}
