package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// config is everything a run needs; a child process parses the same flags
// and gets the same config, then runs its part.
type config struct {
	mode string // conn, sub, pub, pubsub

	host string
	port int

	count     int           // -c: clients in conn, sub and pub modes
	pubs      int           // pubsub: publishers
	subs      int           // pubsub: subscribers
	startIdx  int           // -n: first client index
	connRate  float64       // -R: connects per second, all processes together (0: as fast as -cc allows)
	connIntvl time.Duration // -i: pause between connects (another way to say -R)
	connConc  int           // -cc: handshakes in flight per process
	connTO    time.Duration // dial + CONNACK (+ SUBACK) deadline per client
	connLimit time.Duration // the whole connect phase

	keepalive int // seconds
	clean     bool
	version   int // 3 (3.1), 4 (3.1.1) or 5
	user      string
	pass      string
	prefix    string // client id prefix

	qos      int
	size     int
	pubIntvl time.Duration // -I: per publisher
	rate     float64       // -r: msg/s per publisher
	limit    int64         // -L: messages, all publishers together
	window   int           // -w: QoS 1/2 messages in flight per publisher
	topic    string        // -t
	filter   string        // -ft: pubsub subscription filter template (default -t)
	retain   bool

	ifaddr   string
	srcAddrs []netip.Addr
	procs    int

	duration time.Duration
	drain    time.Duration
	tick     time.Duration
	json     bool
	quiet    bool

	brokerPID int
	cpuProf   string

	tls        bool        // -tls: MQTT over TLS
	caFile     string      // -cafile
	insecure   bool        // -insecure
	serverName string      // -servername
	tlsConf    *tls.Config // built by check when -tls is set
}

const usageText = `cp7bench: MQTT load tool (connections, subscribers, publishers, latency)

usage: cp7bench conn|sub|pub|pubsub [flags]

  conn    open -c idle connections, hold them for -duration
  sub     open -c subscribers to -t, count and time what arrives for -duration
  pub     open -c publishers to -t, publish at -r (or every -I) for -duration or -L messages
  pubsub  -subs subscribers to -ft and -pubs publishers to -t in one run; counts losses

The publisher writes time.Now().UnixNano() big-endian into the first 8 payload
bytes; subscribers turn it into latency. At the end exactly one line
"SUMMARY key=value ..." (or with -json one JSON object) is printed on stdout.
Templates: %i = client index, %c = client id, %% = %.

flags:
`

func usage(w io.Writer, fs *flag.FlagSet) {
	_, _ = io.WriteString(w, usageText)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("cp7bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.host, "h", "127.0.0.1", "broker host")
	fs.IntVar(&cfg.port, "p", 1883, "broker port")
	fs.IntVar(&cfg.count, "c", 1, "clients (conn, sub, pub)")
	fs.IntVar(&cfg.pubs, "pubs", 1, "publishers (pubsub)")
	fs.IntVar(&cfg.subs, "subs", 1, "subscribers (pubsub)")
	fs.IntVar(&cfg.startIdx, "n", 0, "index of the first client (for %i and client ids)")
	fs.Float64Var(&cfg.connRate, "R", 0, "connects per second, all processes together (0: limited by -cc only)")
	fs.DurationVar(&cfg.connIntvl, "i", 0, "pause between connects (the same as -R 1/i)")
	fs.IntVar(&cfg.connConc, "cc", 100, "handshakes in flight per process")
	fs.DurationVar(&cfg.connTO, "connect-timeout", 10*time.Second, "deadline of one dial + CONNACK (+ SUBACK)")
	fs.DurationVar(&cfg.connLimit, "connect-limit", 120*time.Second, "deadline of the whole connect phase; clients not started by then count as failed")
	fs.IntVar(&cfg.keepalive, "k", 60, "keepalive in seconds (0: none)")
	fs.BoolVar(&cfg.clean, "clean", true, "clean session / clean start")
	fs.IntVar(&cfg.version, "V", 4, "protocol version: 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5")
	fs.StringVar(&cfg.user, "u", "", "username; %i (client index) and %c (client id) are expanded")
	fs.StringVar(&cfg.pass, "P", "", "password; %i and %c are expanded, as in -u")
	fs.StringVar(&cfg.prefix, "prefix", "", "client id prefix (default cp7b-MODE); the id is PREFIX-INDEX (pubsub: PREFIX-sub-INDEX, PREFIX-pub-INDEX)")
	fs.IntVar(&cfg.qos, "q", 0, "QoS of publishes and subscriptions: 0, 1 or 2")
	fs.IntVar(&cfg.size, "s", 64, "payload bytes (at least 8 to carry the timestamp)")
	fs.DurationVar(&cfg.pubIntvl, "I", 0, "publish interval per publisher (the same as -r 1/I)")
	fs.Float64Var(&cfg.rate, "r", 10, "messages per second per publisher")
	fs.Int64Var(&cfg.limit, "L", 0, "stop after this many messages, all publishers together (0: only -duration)")
	fs.IntVar(&cfg.window, "w", 64, "QoS 1/2 messages in flight per publisher")
	fs.StringVar(&cfg.topic, "t", "cp7bench/%i", "topic template (publishers, and subscribers in sub mode)")
	fs.StringVar(&cfg.filter, "ft", "", "subscription filter template in pubsub mode (default: -t)")
	fs.BoolVar(&cfg.retain, "retain", false, "publish with the retain flag")
	fs.StringVar(&cfg.ifaddr, "ifaddr", "", "source addresses, round robin: 127.0.0.2-127.0.0.250 or a,b,c")
	fs.StringVar(&cfg.ifaddr, "src-range", "", "same as -ifaddr")
	fs.IntVar(&cfg.procs, "procs", 0, "processes to spread clients over (0: as many as RLIMIT_NOFILE needs)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "publish window, or how long conn/sub hold (bounded; at most 24h)")
	fs.DurationVar(&cfg.drain, "drain", 5*time.Second, "after publishing, wait at most this long for deliveries and acks")
	fs.DurationVar(&cfg.tick, "tick", 5*time.Millisecond, "publish pacing tick (one ticker per process)")
	fs.BoolVar(&cfg.json, "json", false, "print the summary as one JSON object instead of the SUMMARY line")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no progress line even on a terminal")
	fs.IntVar(&cfg.brokerPID, "broker-pid", 0, "PID of the broker on this machine: report its CPU time and RSS (from /proc)")
	fs.BoolVar(&cfg.tls, "tls", false, "connect with TLS (each connection a full handshake: no session resumption)")
	fs.StringVar(&cfg.caFile, "cafile", "", "PEM CA `FILE` that signs the broker's certificate (with -tls; default: the system roots)")
	fs.BoolVar(&cfg.insecure, "insecure", false, "with -tls and no -cafile: do not verify the broker's certificate")
	fs.StringVar(&cfg.serverName, "servername", "", "`NAME` the broker's certificate must hold, and the SNI sent (with -tls; default: -h)")
	fs.StringVar(&cfg.cpuProf, "cpuprofile", "", "write this process's CPU profile to `FILE` (the tool's own cost; not with -procs > 1)")
	return fs
}

var errHelp = errors.New("cp7bench: help requested")

// parseConfig reads the subcommand and its flags.
func parseConfig(args []string) (*config, error) {
	cfg := &config{}
	fs := newFlagSet(cfg)
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		return cfg, errHelp
	}
	cfg.mode = args[0]
	switch cfg.mode {
	case "conn", "sub", "pub", "pubsub":
	default:
		return cfg, fmt.Errorf("cp7bench: unknown mode %q; the first argument must be conn, sub, pub or pubsub", cfg.mode)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, fmt.Errorf("cp7bench: %v (run cp7bench -help for the flags)", err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("cp7bench: unexpected argument %q; flags come after the mode and take no positional arguments", fs.Arg(0))
	}
	return cfg, cfg.check()
}

func (cfg *config) check() error {
	var err error
	switch {
	case cfg.version < 3 || cfg.version > 5:
		return fmt.Errorf("cp7bench: -V %d is not supported; use 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5", cfg.version)
	case cfg.qos < 0 || cfg.qos > 2:
		return fmt.Errorf("cp7bench: -q %d is not a QoS; use 0, 1 or 2", cfg.qos)
	case cfg.count < 0 || cfg.pubs < 0 || cfg.subs < 0:
		return errors.New("cp7bench: -c, -pubs and -subs must not be negative")
	case cfg.size < 0 || cfg.size > 256<<20:
		return fmt.Errorf("cp7bench: -s %d is out of range; use 0 to 268435455 bytes", cfg.size)
	case cfg.duration <= 0 || cfg.duration > 24*time.Hour:
		return fmt.Errorf("cp7bench: -duration %v must be above 0 and at most 24h so the run ends", cfg.duration)
	case cfg.drain < 0 || cfg.drain > time.Hour:
		return fmt.Errorf("cp7bench: -drain %v must be between 0 and 1h", cfg.drain)
	case cfg.tick < time.Millisecond || cfg.tick > time.Second:
		return fmt.Errorf("cp7bench: -tick %v must be between 1ms and 1s", cfg.tick)
	case cfg.window < 1 || cfg.window > 65535:
		return fmt.Errorf("cp7bench: -w %d must be between 1 and 65535 (packet ids)", cfg.window)
	case cfg.keepalive < 0 || cfg.keepalive > 65535:
		return fmt.Errorf("cp7bench: -k %d must be between 0 and 65535 seconds", cfg.keepalive)
	case cfg.connConc < 1:
		return errors.New("cp7bench: -cc must be at least 1")
	case cfg.connTO <= 0 || cfg.connLimit <= 0:
		return errors.New("cp7bench: -connect-timeout and -connect-limit must be above 0")
	case cfg.procs < 0 || cfg.procs > 4096:
		return fmt.Errorf("cp7bench: -procs %d must be between 0 (automatic) and 4096", cfg.procs)
	case cfg.limit < 0:
		return errors.New("cp7bench: -L must not be negative")
	case cfg.rate < 0 || cfg.connRate < 0:
		return errors.New("cp7bench: -r and -R must not be negative")
	}
	if cfg.pubIntvl > 0 {
		cfg.rate = float64(time.Second) / float64(cfg.pubIntvl)
	}
	if cfg.connIntvl > 0 {
		cfg.connRate = float64(time.Second) / float64(cfg.connIntvl)
	}
	if cfg.rate == 0 && cfg.limit == 0 && (cfg.mode == "pub" || cfg.mode == "pubsub") {
		return errors.New("cp7bench: -r 0 with no -L publishes nothing; give a rate or a limit")
	}
	if cfg.rate == 0 {
		cfg.rate = 1e9 // -L only: as fast as the window allows
	}
	if cfg.filter == "" {
		cfg.filter = cfg.topic
	}
	if cfg.prefix == "" {
		cfg.prefix = "cp7b-" + cfg.mode // short: MQTT 3.1 allows 23 characters
	}
	switch cfg.mode {
	case "conn", "sub":
		cfg.subs, cfg.pubs = cfg.count, 0
	case "pub":
		cfg.subs, cfg.pubs = 0, cfg.count
	}
	if cfg.subs+cfg.pubs == 0 {
		return errors.New("cp7bench: no clients; set -c (or -pubs/-subs in pubsub mode) above 0")
	}
	if cfg.srcAddrs, err = parseAddrRanges(cfg.ifaddr); err != nil {
		return err
	}
	if cfg.tlsConf, err = cfg.tlsConfig(); err != nil {
		return err
	}
	return nil
}

func (cfg *config) addr() string {
	return net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
}

// clientID returns the id of subscriber (sub=true) or publisher number i
// (global, -n already added).
func (cfg *config) clientID(i int, sub bool) string {
	p := cfg.prefix
	if cfg.mode == "pubsub" {
		if sub {
			p += "-sub"
		} else {
			p += "-pub"
		}
	}
	return p + "-" + strconv.Itoa(i)
}
