package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pollInterval is how often a CertReloader looks at its files' mtimes.
const pollInterval = 5 * time.Second

// TLSOptions name the PEM files of a TLS listener.
type TLSOptions struct {
	// CertFile holds the server certificate chain, leaf first; KeyFile its
	// private key. Both are required.
	CertFile, KeyFile string
	// ClientCAFile, when set, holds the CAs that sign client certificates;
	// every client must then present a certificate they verify (mutual TLS).
	ClientCAFile string
	// MinVersion is the lowest TLS version accepted; 0 means TLS 1.2. TLS 1.3
	// is always supported.
	MinVersion uint16
	// CNAsUsername is for the caller: when set, it should use the verified
	// client certificate's CommonName (PeerIdentity) as the MQTT username.
	CNAsUsername bool
}

// PeerIdentity is satisfied by the connections that TLS and WSS listeners
// hand to ConnServer.ServeConn.
type PeerIdentity interface {
	// PeerCommonName is the Subject CommonName of the client certificate
	// verified during the TLS handshake, or "" when the client sent none.
	PeerCommonName() string
}

// ClientCN returns the Subject CommonName of c's verified client certificate
// after the handshake, or "" if there is none. A certificate that was not
// verified (possible with tls.RequestClientCert) is ignored, so a client
// cannot choose its own name.
func ClientCN(c *tls.Conn) string {
	st := c.ConnectionState()
	return stateCN(&st)
}

func stateCN(st *tls.ConnectionState) string {
	if st == nil || !st.HandshakeComplete || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return ""
	}
	return st.VerifiedChains[0][0].Subject.CommonName
}

// tlsConn is a handshaken *tls.Conn as given to ServeConn. ConnectionState,
// NetConn and the net.Conn methods are the embedded *tls.Conn's.
type tlsConn struct {
	*tls.Conn
	cn string
}

func (c *tlsConn) PeerCommonName() string { return c.cn }

// ListenerKind names the listener in the broker's metrics.
func (c *tlsConn) ListenerKind() string { return "tls" }

// CertReloader serves a certificate and key (and client CAs) from files and
// replaces them, without dropping connections, when Reload is called (on
// SIGHUP) or when it sees the files change. A reload that fails keeps the
// previous files' contents in use. Safe for concurrent use.
type CertReloader struct {
	o     TLSOptions
	log   *slog.Logger
	outer *tls.Config
	cur   atomic.Pointer[tls.Config] // the config of the last good load
	mu    sync.Mutex                 // serializes loads; guards stamps
	stamp [3]fileStamp               // cert, key, client CA as last looked at

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type fileStamp struct {
	mtime int64 // UnixNano
	size  int64
}

// NewCertReloader loads the files named by o and starts one goroutine that
// polls their modification times every few seconds; Close stops it.
func NewCertReloader(o TLSOptions, log *slog.Logger) (*CertReloader, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("listener: TLS needs both a certificate file and a key file; give both or leave TLS off")
	}
	switch o.MinVersion {
	case 0:
		o.MinVersion = tls.VersionTLS12
	case tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13:
	default:
		return nil, fmt.Errorf("listener: TLS MinVersion %#x is not a TLS version; use tls.VersionTLS12 or tls.VersionTLS13", o.MinVersion)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &CertReloader{o: o, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	r.outer = &tls.Config{
		MinVersion:         o.MinVersion,
		GetCertificate:     r.getCertificate,
		GetConfigForClient: r.getConfigForClient,
	}
	if o.MinVersion < tls.VersionTLS12 {
		log.Warn("listener: TLS versions below 1.2 are enabled; they are deprecated and weak", "min", tls.VersionName(o.MinVersion))
	}
	r.mu.Lock()
	r.stamp = r.stat()
	err := r.loadLocked()
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go r.pollLoop()
	return r, nil
}

// TLSConfig returns the server configuration that serves the current files.
// The same *tls.Config is returned each time and can be shared by listeners;
// do not modify it. Each handshake takes the pair loaded last (through
// GetConfigForClient); with a client CA file, clients must present a
// certificate it verifies (RequireAndVerifyClientCert).
func (r *CertReloader) TLSConfig() *tls.Config { return r.outer }

// Reload reads the files again. On error the previous certificate stays in
// use and the error says which file failed and why. Safe to call from a
// signal handler's goroutine.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stamp = r.stat()
	return r.loadLocked()
}

// Close stops the polling goroutine. The TLS configuration keeps serving the
// last loaded certificate.
func (r *CertReloader) Close() {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
	})
}

func (r *CertReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return &r.cur.Load().Certificates[0], nil
}

func (r *CertReloader) getConfigForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return r.cur.Load(), nil
}

// loadLocked reads the files and, if all are good, makes them current.
func (r *CertReloader) loadLocked() error {
	cert, err := tls.LoadX509KeyPair(r.o.CertFile, r.o.KeyFile)
	if err != nil {
		err = fmt.Errorf("listener: loading TLS certificate %q with key %q: %w; "+
			"check that both are PEM and that the key matches the certificate", r.o.CertFile, r.o.KeyFile, err)
		r.logFailure(err)
		return err
	}
	cfg := &tls.Config{
		MinVersion:   r.o.MinVersion,
		Certificates: []tls.Certificate{cert},
	}
	if r.o.ClientCAFile != "" {
		pemCAs, err := os.ReadFile(r.o.ClientCAFile)
		if err != nil {
			err = fmt.Errorf("listener: reading TLS client CA file: %w", err)
			r.logFailure(err)
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemCAs) {
			err := fmt.Errorf("listener: TLS client CA file %q holds no PEM certificate", r.o.ClientCAFile)
			r.logFailure(err)
			return err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	r.cur.Store(cfg)
	leaf := cert.Leaf // set by LoadX509KeyPair since Go 1.23
	r.log.Info("listener: TLS certificate loaded", "cert", r.o.CertFile,
		"subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(),
		"not_after", leaf.NotAfter, "client_ca", r.o.ClientCAFile)
	if time.Now().After(leaf.NotAfter) {
		r.log.Warn("listener: TLS certificate has expired; clients will refuse it", "cert", r.o.CertFile, "not_after", leaf.NotAfter)
	}
	return nil
}

func (r *CertReloader) logFailure(err error) {
	if r.cur.Load() != nil {
		r.log.Error("listener: TLS reload failed; still serving the previous certificate", "err", err)
	}
}

// stat stamps the three files; a missing file gets a zero stamp.
func (r *CertReloader) stat() [3]fileStamp {
	var s [3]fileStamp
	for i, name := range [3]string{r.o.CertFile, r.o.KeyFile, r.o.ClientCAFile} {
		if name == "" {
			continue
		}
		if fi, err := os.Stat(name); err == nil {
			s[i] = fileStamp{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
		}
	}
	return s
}

// poll reloads when any file's mtime or size changed since last looked at.
// A failed load is not retried until the files change again, so a broken
// file is logged once, not every interval.
func (r *CertReloader) poll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stat()
	if s == r.stamp {
		return
	}
	r.stamp = s
	r.loadLocked()
}

func (r *CertReloader) pollLoop() {
	defer close(r.done)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.poll()
		}
	}
}
