// Package passwd reads and writes password files: one "user:hash" line per
// user, as Mosquitto's mosquitto_passwd writes them, so either tool can add
// to the same file. It verifies
//
//	$7$ITER$SALT$HASH          PBKDF2-SHA512 (mosquitto_passwd's default)
//	$6$SALT$HASH               SHA-512 of password+salt (Mosquitto 1.6 and older)
//	$argon2id$v=19$m=,t=,p=$SALT$HASH   argon2id, PHC string (cp7 passwd's default)
//	$2a$/$2b$/$2y$             bcrypt
//	$scram-sha-256$ITER$SALT$STOREDKEY$SERVERKEY
//	                           SCRAM-SHA-256 salted keys (RFC 5802): MQTT 5
//	                           SCRAM and plain CONNECT passwords both work
//
// No format holds a password in clear; a line whose hash does not start
// with '$' is refused. The package has no dependency on the broker.
package passwd

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Kind names a hash format.
type Kind string

const (
	PBKDF2SHA512 Kind = "pbkdf2-sha512" // $7$
	SHA512       Kind = "sha512"        // $6$ (read only)
	Argon2id     Kind = "argon2id"
	Bcrypt       Kind = "bcrypt"
	SCRAMSHA256  Kind = "scram-sha-256"
)

// Parameters of new entries. argon2id follows OWASP's smallest recommended
// setting (19 MiB, 2 passes, 1 lane): each concurrent check holds 19 MiB,
// and the broker runs at most -auth-workers of them at once.
var (
	// variables, not constants, only so tests can make hashing cheap
	argonTime, argonMemory uint32 = 2, 19 * 1024
	bcryptCost                    = 10
)

const (
	argonThreads, argonKeyLen = 1, 32
	pbkdf2Iterations          = 101 // mosquitto_passwd's own count
	// SCRAMIterations is the PBKDF2 count of new SCRAM entries: RFC 7677's
	// minimum; clients pay it on every connect.
	SCRAMIterations = 4096
)

// Entry is one user's parsed hash.
type Entry struct {
	Kind Kind
	Hash string // the text after "user:", as found in the file
	// SCRAM keys (Kind SCRAMSHA256) and the salt/iterations of $7$ and $6$
	Salt                 []byte
	Iter                 int
	StoredKey, ServerKey []byte
	sum                  []byte // $7$ and $6$: the digest
}

// ParseHash parses the hash part of a line.
func ParseHash(h string) (*Entry, error) {
	e := &Entry{Hash: h}
	if !strings.HasPrefix(h, "$") {
		return nil, errors.New("passwd: not a hash (a password in clear?): write the entry with cp7 passwd or mosquitto_passwd")
	}
	parts := strings.Split(h[1:], "$")
	var err error
	switch parts[0] {
	case "7":
		if len(parts) != 4 {
			return nil, errors.New("passwd: $7$ entry is not $7$iterations$salt$hash")
		}
		e.Kind = PBKDF2SHA512
		if e.Iter, err = strconv.Atoi(parts[1]); err != nil || e.Iter < 1 {
			return nil, fmt.Errorf("passwd: $7$ iterations %q is not a positive number", parts[1])
		}
		if e.Salt, err = base64.StdEncoding.DecodeString(parts[2]); err != nil {
			return nil, fmt.Errorf("passwd: $7$ salt: %w", err)
		}
		if e.sum, err = base64.StdEncoding.DecodeString(parts[3]); err != nil || len(e.sum) != sha512.Size {
			return nil, errors.New("passwd: $7$ hash is not 64 bytes of base64")
		}
	case "6":
		if len(parts) != 3 {
			return nil, errors.New("passwd: $6$ entry is not $6$salt$hash")
		}
		e.Kind = SHA512
		if e.Salt, err = base64.StdEncoding.DecodeString(parts[1]); err != nil {
			return nil, fmt.Errorf("passwd: $6$ salt: %w", err)
		}
		if e.sum, err = base64.StdEncoding.DecodeString(parts[2]); err != nil || len(e.sum) != sha512.Size {
			return nil, errors.New("passwd: $6$ hash is not 64 bytes of base64")
		}
	case "argon2id":
		e.Kind = Argon2id
		if _, _, _, _, _, err := parseArgon(h); err != nil {
			return nil, err
		}
	case "2a", "2b", "2y":
		e.Kind = Bcrypt
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return nil, fmt.Errorf("passwd: bcrypt entry: %w", err)
		}
	case "scram-sha-256":
		if len(parts) != 5 {
			return nil, errors.New("passwd: SCRAM entry is not $scram-sha-256$iterations$salt$storedkey$serverkey")
		}
		e.Kind = SCRAMSHA256
		if e.Iter, err = strconv.Atoi(parts[1]); err != nil || e.Iter < 1 {
			return nil, fmt.Errorf("passwd: SCRAM iterations %q is not a positive number", parts[1])
		}
		dec := func(s string) []byte {
			b, e2 := base64.StdEncoding.DecodeString(s)
			if e2 != nil || len(b) == 0 {
				err = errors.New("passwd: SCRAM salt or key is not base64")
			}
			return b
		}
		e.Salt, e.StoredKey, e.ServerKey = dec(parts[2]), dec(parts[3]), dec(parts[4])
		if err != nil {
			return nil, err
		}
		if len(e.StoredKey) != sha256.Size || len(e.ServerKey) != sha256.Size {
			return nil, errors.New("passwd: SCRAM keys must be 32 bytes each")
		}
	default:
		return nil, fmt.Errorf("passwd: unknown hash format $%s$: use $7$, $6$, $argon2id$, bcrypt or $scram-sha-256$", parts[0])
	}
	return e, nil
}

// Verify reports whether password matches the entry. It is slow on
// purpose (that is the point of these hashes): call it off event loops.
func (e *Entry) Verify(password []byte) bool {
	switch e.Kind {
	case PBKDF2SHA512:
		k, err := pbkdf2.Key(sha512.New, string(password), e.Salt, e.Iter, sha512.Size)
		return err == nil && subtle.ConstantTimeCompare(k, e.sum) == 1
	case SHA512:
		h := sha512.New()
		h.Write(password)
		h.Write(e.Salt)
		return subtle.ConstantTimeCompare(h.Sum(nil), e.sum) == 1
	case Argon2id:
		t, m, p, salt, sum, err := parseArgon(e.Hash)
		if err != nil {
			return false
		}
		k := argon2.IDKey(password, salt, t, m, p, uint32(len(sum)))
		return subtle.ConstantTimeCompare(k, sum) == 1
	case Bcrypt:
		return bcrypt.CompareHashAndPassword([]byte(e.Hash), password) == nil
	case SCRAMSHA256:
		salted, err := pbkdf2.Key(sha256.New, string(password), e.Salt, e.Iter, sha256.Size)
		if err != nil {
			return false
		}
		stored := sha256.Sum256(hmacSHA256(salted, []byte("Client Key")))
		return subtle.ConstantTimeCompare(stored[:], e.StoredKey) == 1
	}
	return false
}

// parseArgon reads "$argon2id$v=19$m=M,t=T,p=P$salt$hash" (raw base64).
func parseArgon(h string) (t, m uint32, p uint8, salt, sum []byte, err error) {
	parts := strings.Split(h, "$")
	bad := errors.New("passwd: argon2id entry is not $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	if len(parts) != 6 || parts[2] != "v=19" {
		return 0, 0, 0, nil, nil, bad
	}
	var pp uint32
	if _, e := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &pp); e != nil || t == 0 || m == 0 || pp == 0 || pp > 255 {
		return 0, 0, 0, nil, nil, bad
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return 0, 0, 0, nil, nil, bad
	}
	if sum, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(sum) < 16 {
		return 0, 0, 0, nil, nil, bad
	}
	return t, m, uint8(pp), salt, sum, nil
}

// Hash makes a new entry's hash text of the given kind for password.
func Hash(kind Kind, password []byte) (string, error) {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	switch kind {
	case Argon2id, "":
		k := argon2.IDKey(password, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
		return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", argonMemory, argonTime, argonThreads,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(k)), nil
	case Bcrypt:
		b, err := bcrypt.GenerateFromPassword(password, bcryptCost)
		if err != nil {
			return "", fmt.Errorf("passwd: bcrypt: %w (bcrypt takes at most 72 bytes of password)", err)
		}
		return string(b), nil
	case PBKDF2SHA512:
		salt = salt[:12] // as mosquitto_passwd
		k, err := pbkdf2.Key(sha512.New, string(password), salt, pbkdf2Iterations, sha512.Size)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("$7$%d$%s$%s", pbkdf2Iterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(k)), nil
	case SCRAMSHA256:
		stored, server, err := SCRAMKeys(password, salt, SCRAMIterations)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("$scram-sha-256$%d$%s$%s$%s", SCRAMIterations, base64.StdEncoding.EncodeToString(salt),
			base64.StdEncoding.EncodeToString(stored), base64.StdEncoding.EncodeToString(server)), nil
	}
	return "", fmt.Errorf("passwd: cannot write %q hashes: use argon2id, bcrypt, pbkdf2-sha512 or scram-sha-256", kind)
}

// SCRAMKeys derives RFC 5802's StoredKey and ServerKey for password.
func SCRAMKeys(password, salt []byte, iter int) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, string(password), salt, iter, sha256.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("passwd: SCRAM keys: %w", err)
	}
	s := sha256.Sum256(hmacSHA256(salted, []byte("Client Key")))
	return s[:], hmacSHA256(salted, []byte("Server Key")), nil
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}
