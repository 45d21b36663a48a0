package auth

import (
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/auth/passwd"
)

// PasswordFile is the password-file method (-password-file): it knows the
// users listed in the file and checks their password against the entry's
// slow hash.
type PasswordFile struct{ File *passwd.File }

// Name implements Method.
func (p PasswordFile) Name() string { return "password-file" }

// Check implements Method.
func (p PasswordFile) Check(info *server.ConnInfo) Result {
	e := p.File.Lookup(string(info.Username))
	if e == nil {
		return Result{}
	}
	var ok bool
	CPUBound(func() { ok = e.Verify(info.Password) })
	if !ok {
		return Result{Decision: Deny, Reason: codec.BadUserNameOrPassword}
	}
	// Valid until the file changes; a reload clears the cache.
	return Result{Decision: Allow, CacheFor: 365 * 24 * time.Hour}
}
