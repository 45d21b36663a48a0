package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// tlsConfig builds the client TLS configuration from -tls, -cafile,
// -insecure and -servername, or returns nil without -tls. Every process
// (children included) builds its own from the same flags; one config is
// shared, read-only, by all of a process's clients. It sets no
// ClientSessionCache, so every connection is a full handshake: the connect
// rate measured is the worst case, not resumption.
func (cfg *config) tlsConfig() (*tls.Config, error) {
	if !cfg.tls {
		if cfg.caFile != "" || cfg.insecure || cfg.serverName != "" {
			return nil, errors.New("cp7bench: -cafile, -insecure and -servername only apply to TLS; add -tls")
		}
		return nil, nil
	}
	if cfg.caFile != "" && cfg.insecure {
		return nil, errors.New("cp7bench: -cafile and -insecure contradict each other; give -cafile to verify the broker, or -insecure alone to skip verification")
	}
	c := &tls.Config{ServerName: cfg.serverName, InsecureSkipVerify: cfg.insecure}
	if c.ServerName == "" {
		// An IP address here makes crypto/tls check the certificate's IP
		// SANs (and send no SNI).
		c.ServerName = cfg.host
	}
	if cfg.caFile != "" {
		pem, err := os.ReadFile(cfg.caFile)
		if err != nil {
			return nil, fmt.Errorf("cp7bench: -cafile: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cp7bench: -cafile %s holds no PEM certificate; give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)", cfg.caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// dial opens client i's connection to the broker from its source address
// (-ifaddr): TCP, then, with -tls, the TLS handshake under deadline, the
// one the MQTT handshake runs under too (-connect-timeout).
func (n *node) dial(global int, deadline time.Time) (net.Conn, error) {
	cfg := n.cfg
	conn, err := n.dialers.forClient(global).Dial("tcp", cfg.addr())
	if err != nil || cfg.tlsConf == nil {
		return conn, err
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, err
	}
	tc := tls.Client(conn, cfg.tlsConf)
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}
