package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/auth"
	"github.com/cp7/cp7/server/auth/jwtauth"
	"github.com/cp7/cp7/server/auth/passwd"
	"github.com/cp7/cp7/server/authhttp"
)

func init() { addGroup(func() flagGroup { return &authFlags{} }) }

// authFlags are the authentication flags (issue 9). The methods configured
// form one chain, asked in this order: client certificate (with
// -tls-cn-username), password file, JWT, HTTP hook; the first that knows
// the user decides. With none configured every client is let in, unless
// -allow-anonymous=false.
type authFlags struct {
	anon         triBool
	passwordFile string
	jwtKeys      listFlag
	jwtClaim     string
	httpURL      string
	httpTimeout  time.Duration
	httpCacheTTL time.Duration
	httpFail     string
	workers      int
	queue        int
	cacheTTL     time.Duration
	cacheSize    int

	// built by apply, used by reload
	file         *passwd.File
	jwt          *jwtauth.Verifier
	hook         *authhttp.Hook
	chain        *auth.Chain
	scram        *server.SCRAM
	anonymousWhy string
}

func (f *authFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.anon, "allow-anonymous", "let in clients that send neither user name nor password (`BOOL`: true, false or auto); auto = true when no other authentication method is configured, else false")
	fs.StringVar(&f.passwordFile, "password-file", "", "password `FILE` of user:hash lines, as mosquitto_passwd writes them ($7$ PBKDF2-SHA512, $6$) or cp7 passwd ($argon2id$, bcrypt, $scram-sha-256$ for MQTT 5 SCRAM); reloaded on SIGHUP")
	fs.Var(&f.jwtKeys, "jwt-key", "key `FILE` for JWTs sent as the CONNECT password: a PEM RSA/EC public key (RS256, ES256) or an HMAC secret (HS256, 32 bytes at least); repeat for several keys (rotation); reloaded on SIGHUP")
	fs.StringVar(&f.jwtClaim, "jwt-username-claim", jwtauth.DefaultUsernameClaim, "JWT claim `NAME` that holds the user name; a client that also sends a user name must send this one")
	fs.StringVar(&f.httpURL, "auth-http-url", "", "`URL` to POST JSON authentication (and publish/subscribe) decisions to; see server/authhttp for the protocol")
	fs.DurationVar(&f.httpTimeout, "auth-http-timeout", 2*time.Second, "`DURATION` an -auth-http-url request may take before it counts as a failure")
	fs.DurationVar(&f.httpCacheTTL, "auth-http-cache-ttl", 30*time.Second, "`DURATION` an -auth-http-url decision is cached; 0 = no cache")
	fs.StringVar(&f.httpFail, "auth-http-fail", "closed", "what an -auth-http-url failure (timeout, error, bad answer) decides: closed (refuse) or open (allow)")
	fs.IntVar(&f.workers, "auth-workers", 0, "goroutines that run slow authentication checks (hashes, JWT signatures, HTTP) off the event loops (`N`); 0 = max(8, 4 x CPUs)")
	fs.IntVar(&f.queue, "auth-queue", 0, "CONNECTs that may wait for an auth worker (`N`); more are refused with Server busy (v5 0x89, 3.1.1 0x03); 0 = 64 per worker")
	fs.DurationVar(&f.cacheTTL, "auth-cache-ttl", 10*time.Minute, "`DURATION` a verified user name and password is remembered (as an HMAC, never the password), so reconnects skip the slow hash; 0 = no cache; SIGHUP clears it")
	fs.IntVar(&f.cacheSize, "auth-cache-size", 100_000, "most verified credentials remembered (`N`)")
}

func (f *authFlags) apply(o *options) error {
	c := &o.cfg
	if f.workers < 0 || f.queue < 0 {
		return fmt.Errorf("-auth-workers %d / -auth-queue %d: use 0 (the default) or more", f.workers, f.queue)
	}
	c.AuthWorkers, c.AuthQueue = f.workers, f.queue
	if f.httpFail != "closed" && f.httpFail != "open" {
		return fmt.Errorf("-auth-http-fail %q: use closed (refuse when the service fails) or open (allow)", f.httpFail)
	}
	ch := &auth.Chain{CertUsers: c.CNAsUsername}
	if f.passwordFile != "" {
		file, err := passwd.Open(f.passwordFile)
		if err != nil {
			return fmt.Errorf("-password-file: %w", err)
		}
		f.file = file
		ch.Methods = append(ch.Methods, auth.PasswordFile{File: file})
		if !hasMethod(c.EnhancedAuth, server.SCRAMMethod) {
			// Users with a $scram-sha-256$ entry may also log in with MQTT
			// 5 SCRAM-SHA-256.
			f.scram = server.NewSCRAM()
			f.scram.SetKeys(server.KeysOf(file.Users()))
			c.EnhancedAuth = append(c.EnhancedAuth, f.scram)
		}
	}
	var keys []string
	for _, k := range f.jwtKeys {
		if k != "" { // an empty list in the config file sets ""
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		v, err := jwtauth.New(keys, f.jwtClaim)
		if err != nil {
			return fmt.Errorf("-jwt-key: %w", err)
		}
		f.jwt = v
		ch.Methods = append(ch.Methods, v)
	}
	if f.httpURL != "" {
		h, err := authhttp.New(authhttp.Options{URL: f.httpURL, Timeout: f.httpTimeout,
			CacheTTL: f.httpCacheTTL, FailOpen: f.httpFail == "open"})
		if err != nil {
			return fmt.Errorf("-auth-http-url: %w", err)
		}
		f.hook = h
		ch.Methods = append(ch.Methods, h)
	}
	switch {
	case f.anon.set:
		ch.AllowAnonymous = f.anon.v
		f.anonymousWhy = "-allow-anonymous"
	case len(ch.Methods) == 0:
		f.anonymousWhy = "no authentication method is configured"
		return nil // no chain: everyone is let in, at no cost
	default:
		f.anonymousWhy = "an authentication method is configured (-allow-anonymous true lets them in)"
	}
	if f.cacheTTL > 0 && f.cacheSize > 0 {
		ch.Cache = auth.NewCache(f.cacheSize, f.cacheTTL)
	}
	f.chain = ch
	c.Auth = ch
	return nil
}

func hasMethod(list []server.EnhancedAuthenticator, m string) bool {
	for _, a := range list {
		if a.Method() == m {
			return true
		}
	}
	return false
}

// prepare logs which methods admit clients, and whether anonymous ones are.
func (f *authFlags) prepare(o *options, log *slog.Logger) error {
	var methods []string
	if o.cfg.CNAsUsername {
		methods = append(methods, "client-certificate")
	}
	if f.chain != nil {
		for _, m := range f.chain.Methods {
			methods = append(methods, m.Name())
		}
	}
	if f.scram != nil {
		methods = append(methods, fmt.Sprintf("scram-sha-256 (%d users)", f.scram.Len()))
	}
	anon := "allowed"
	if f.chain != nil && !f.chain.AllowAnonymous {
		anon = "refused"
	}
	log.Info("authentication", "methods", strings.Join(methods, ","), "anonymous", anon, "because", f.anonymousWhy)
	return nil
}

// reload re-reads the password file and the JWT keys (SIGHUP). A file that
// fails to load keeps the old one in use. Cached credentials and HTTP
// decisions are forgotten either way.
func (f *authFlags) reload(log *slog.Logger) {
	if f.file != nil {
		if err := f.file.Reload(); err != nil {
			log.Error("SIGHUP: password file not reloaded; the old one stays in use", "err", err)
		} else {
			if f.scram != nil {
				f.scram.SetKeys(server.KeysOf(f.file.Users()))
			}
			log.Info("SIGHUP: password file reloaded", "file", f.file.Path(), "users", f.file.Len())
		}
	}
	if f.jwt != nil {
		if err := f.jwt.Reload(); err != nil {
			log.Error("SIGHUP: JWT keys not reloaded; the old ones stay in use", "err", err)
		} else {
			log.Info("SIGHUP: JWT keys reloaded")
		}
	}
	if f.hook != nil {
		f.hook.Invalidate()
	}
	if f.chain != nil {
		f.chain.Invalidate()
	}
}

// triBool is a boolean flag that knows whether it was given: "auto" (or
// empty) leaves the choice to the broker.
type triBool struct{ v, set bool }

func (b *triBool) String() string {
	if b == nil || !b.set {
		return "auto"
	}
	return strconv.FormatBool(b.v)
}

func (b *triBool) Set(s string) error {
	if s == "" || s == "auto" {
		b.v, b.set = false, false
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true, false or auto", s)
	}
	b.v, b.set = v, true
	return nil
}

func (b *triBool) IsBoolFlag() bool { return true }
