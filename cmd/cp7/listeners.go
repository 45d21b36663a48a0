package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/listener"
	"github.com/cp7/cp7/server/proxyproto"
)

// listenerFlags are the flags of the goroutine listeners (TLS, WebSocket),
// PROXY protocol and enhanced authentication (the admin endpoint is in
// ops.go). The names
// are fixed: docs, deploy files and scripts use them.
type listenerFlags struct {
	tlsListen, tlsCert, tlsKey, tlsClientCA string
	tlsCNUsername                           bool
	tlsMin                                  string
	wsListen, wssListen                     string
	proxy                                   bool
	proxyTrusted                            string
	scramUsers                              string

	trusted  *proxyproto.Trusted
	reloader *listener.CertReloader
}

func (f *listenerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.tlsListen, "tls-listen", ":8883", "`ADDR` of the MQTT over TLS listener; listens only when -tls-cert and -tls-key are given; empty turns it off")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain `FILE` for the TLS and WSS listeners (reloaded on SIGHUP and when the file changes)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `FILE` for -tls-cert")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "PEM CA `FILE`: when set, TLS clients must present a certificate it signed")
	fs.BoolVar(&f.tlsCNUsername, "tls-cn-username", false, "use the verified client certificate's CN as the MQTT username (with -tls-client-ca)")
	fs.StringVar(&f.tlsMin, "tls-min-version", "1.2", "lowest TLS `VERSION` accepted: 1.2 or 1.3")
	fs.StringVar(&f.wsListen, "ws-listen", ":8083", "`ADDR` of the MQTT over WebSocket listener (path /mqtt); empty turns it off")
	fs.StringVar(&f.wssListen, "wss-listen", ":8084", "`ADDR` of the MQTT over WebSocket with TLS listener (path /mqtt); listens only with -tls-cert and -tls-key; empty turns it off")
	fs.BoolVar(&f.proxy, "proxy-protocol", false, "expect a PROXY protocol v1/v2 header from trusted proxies on the TCP and TLS listeners")
	fs.StringVar(&f.proxyTrusted, "proxy-trusted", "", "`CIDR,...` of the load balancers allowed to send PROXY headers (required with -proxy-protocol)")
	fs.StringVar(&f.scramUsers, "scram-users", "", "password `FILE` whose $scram-sha-256$ entries (salted keys, written by cp7 passwd -hash scram-sha-256; never passwords in clear) enable MQTT 5 enhanced authentication with SCRAM-SHA-256; -password-file does the same for its own entries")
}

// apply checks the flags and sets what the broker core needs.
func (f *listenerFlags) apply(c *server.Config) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return fmt.Errorf("-tls-cert and -tls-key go together: give both or neither")
	}
	if f.tlsClientCA != "" && f.tlsCert == "" {
		return fmt.Errorf("-tls-client-ca needs -tls-cert and -tls-key")
	}
	if f.tlsCNUsername && f.tlsClientCA == "" {
		return fmt.Errorf("-tls-cn-username needs -tls-client-ca (only verified certificates name users)")
	}
	if f.tlsMin != "1.2" && f.tlsMin != "1.3" {
		return fmt.Errorf("-tls-min-version %q: use 1.2 or 1.3", f.tlsMin)
	}
	if f.proxy {
		if f.proxyTrusted == "" {
			return fmt.Errorf("-proxy-protocol needs -proxy-trusted: the CIDRs of your load balancers (e.g. 10.0.0.0/8)")
		}
		t, err := proxyproto.ParseTrusted(f.proxyTrusted)
		if err != nil {
			return fmt.Errorf("-proxy-trusted: %w", err)
		}
		f.trusted = t
		c.ProxyProtocol = true
		c.ProxyTrusted = t
	}
	c.CNAsUsername = f.tlsCNUsername
	if f.scramUsers != "" {
		fh, err := os.Open(f.scramUsers)
		if err != nil {
			return fmt.Errorf("-scram-users: %w", err)
		}
		defer fh.Close()
		s := server.NewSCRAM()
		if err := s.LoadUsers(fh); err != nil {
			return fmt.Errorf("-scram-users %s: %w", f.scramUsers, err)
		}
		c.EnhancedAuth = append(c.EnhancedAuth, s)
	}
	return nil
}

// start opens the TLS and WebSocket listeners; the returned function
// closes them.
func (f *listenerFlags) start(ctx context.Context, srv *server.Server, log *slog.Logger) (func(), error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	var tlsCfg *tls.Config
	if f.tlsCert != "" {
		minV := uint16(tls.VersionTLS12)
		if f.tlsMin == "1.3" {
			minV = tls.VersionTLS13
		}
		r, err := listener.NewCertReloader(listener.TLSOptions{CertFile: f.tlsCert, KeyFile: f.tlsKey,
			ClientCAFile: f.tlsClientCA, MinVersion: minV, CNAsUsername: f.tlsCNUsername}, log)
		if err != nil {
			return nil, err
		}
		f.reloader = r
		stops = append(stops, r.Close)
		tlsCfg = r.TLSConfig()
	}
	serve := func(kind string, l *listener.Listener) {
		log.Info("listening", "transport", kind, "addr", l.Addr().String())
		go func() {
			if err := l.Serve(srv); err != nil {
				log.Error("listener stopped", "transport", kind, "err", err)
			}
		}()
		stops = append(stops, func() { _ = l.Close() })
	}
	opts := func(addr string, proxy bool) listener.Options {
		o := listener.Options{Addr: addr, Log: log}
		if proxy && f.trusted != nil {
			o.Proxy = f.trusted
			o.ProxyRequired = true // a trusted LB must send the header: never guess
		}
		return o
	}
	if f.tlsListen != "" && tlsCfg != nil {
		l, err := listener.ListenTLS(opts(f.tlsListen, true), tlsCfg)
		if err != nil {
			stopAll()
			return nil, err
		}
		serve("tls", l)
	}
	if f.wsListen != "" {
		l, err := listener.ListenWS(opts(f.wsListen, false), "/mqtt", nil)
		if err != nil {
			stopAll()
			return nil, err
		}
		serve("ws", l)
	}
	if f.wssListen != "" && tlsCfg != nil {
		l, err := listener.ListenWS(opts(f.wssListen, false), "/mqtt", tlsCfg)
		if err != nil {
			stopAll()
			return nil, err
		}
		serve("wss", l)
	}
	return stopAll, nil
}

// reload re-reads the TLS certificate and key (SIGHUP).
func (f *listenerFlags) reload(log *slog.Logger) {
	if f.reloader == nil {
		log.Info("SIGHUP: no TLS certificate to reload")
		return
	}
	if err := f.reloader.Reload(); err != nil {
		log.Error("SIGHUP: certificate reload failed; keeping the old certificate", "err", err)
		return
	}
	log.Info("SIGHUP: TLS certificate reloaded")
}
