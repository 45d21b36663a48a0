// Command cp7 is the CP7 MQTT broker. With no arguments it listens on
// 0.0.0.0:1883 with the defaults below; `cp7 -h` lists every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served by -pprof only
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/profile"

	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server"
)

func main() {
	args := os.Args[1:]
	cmd := run
	if len(args) > 0 && subcommands[args[0]] != nil {
		cmd, args = subcommands[args[0]], args[1:]
	}
	if err := cmd(args); err != nil {
		fmt.Fprintln(os.Stderr, "cp7:", err)
		os.Exit(2)
	}
}

// subcommands are the tools beside the broker (`cp7 NAME args...`). Each
// lives in its own file and adds itself in an init function.
var subcommands = map[string]func(args []string) error{}

// options are the parsed flags.
type options struct {
	cfg      server.Config
	logLevel string
	pprof    string
	profile  string
	gcPct    int
	shared   string
	lst      listenerFlags
	groups   []flagGroup
	// set by ops.go's flags
	logFormat       string
	shutdownTimeout time.Duration

	config string            // -config: the file read, if any
	fs     *flag.FlagSet     // every flag, for `config check` and SIGHUP's diff
	set    map[string]source // where each flag that is not at its default came from
	level  slog.LevelVar     // -log-level, changed by SIGHUP

	// clusterStatus is this node's cluster view for the admin API; nil on
	// a single node (set by the cluster group once it has joined).
	clusterStatus func() any
}

// flagGroup is one feature's flags, kept in a file of its own in this
// package and added with addGroup from an init function. Every flag it
// registers is also a config-file key and a CP7_* environment variable.
type flagGroup interface {
	register(fs *flag.FlagSet)
	// apply runs after every flag is parsed: it checks the values, saying
	// which flag is wrong and what to use, and fills o.cfg.
	apply(o *options) error
}

// Optional hooks of a flagGroup, run in the order groups were added.
type (
	// preparer runs before the server is made (e.g. to open a store).
	preparer interface {
		prepare(o *options, log *slog.Logger) error
	}
	// starter runs once the server has started; stop runs at shutdown.
	starter interface {
		start(ctx context.Context, srv *server.Server, log *slog.Logger) (stop func(), err error)
	}
	// attacher runs between server.New and Start (e.g. to join a cluster,
	// which must be set before the loops start).
	attacher interface {
		attach(srv *server.Server, log *slog.Logger) error
	}
	// reloader runs on SIGHUP.
	reloader interface {
		reload(log *slog.Logger)
	}
	// closer runs after the server has closed (e.g. to close a store), and
	// when start-up fails after prepare.
	closer interface {
		close()
	}
)

var groupMakers []func() flagGroup

// addGroup adds a feature's flags; call it from an init function.
func addGroup(mk func() flagGroup) { groupMakers = append(groupMakers, mk) }

func parseFlags(args []string) (*options, error) {
	return parseFlagsEnv(args, os.Getenv)
}

// parseFlagsEnv parses the command line, then CP7_* variables from getenv,
// then the config file, each for the flags the ones before left unset.
func parseFlagsEnv(args []string, getenv func(string) string) (*options, error) {
	o := &options{cfg: server.DefaultConfig()}
	fs := flag.NewFlagSet("cp7", flag.ContinueOnError)
	o.fs = fs
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: cp7 [flags]
       cp7 config check FILE [flags]   validate a config file and print the effective settings
       cp7 config example              print a commented config file with every key at its default

CP7 is an MQTT 3.1, 3.1.1 and 5.0 broker. With no flags it listens on 0.0.0.0:1883.
Every flag is also a config-file key of the same name (max-inflight: 64) and an
environment variable (CP7_MAX_INFLIGHT=64); the command line beats the
environment, which beats the file.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.config, "config", "", "read settings from this YAML `FILE` (one key per flag, e.g. max-inflight: 64); flags and CP7_* environment variables override it")
	c := &o.cfg
	var maxKeepAlive uint
	fs.StringVar(&c.Listen, "listen", c.Listen, "`ADDR` of the MQTT over TCP listener (the fast path); empty turns it off")
	fs.IntVar(&c.MaxPacketSize, "max-packet-size", c.MaxPacketSize, "largest inbound packet accepted, in `BYTES`; larger ones close the connection")
	fs.UintVar(&maxKeepAlive, "max-keepalive", 0, "maximum keepalive in `SECONDS` a client may ask for; 0 = no maximum. 3.1/3.1.1 clients asking for more are refused (CONNACK 0x02), v5 clients are told the maximum")
	fs.IntVar(&c.MaxInflight, "max-inflight", c.MaxInflight, "unacknowledged QoS 1/2 deliveries per session (`N`)")
	fs.IntVar(&c.MaxQueued, "max-queued", c.MaxQueued, "messages queued per session while offline or behind a full in-flight window (`N`); overflow drops the oldest and counts it")
	fs.IntVar(&c.MaxOutboundBytes, "max-outbound-bytes", c.MaxOutboundBytes, "`BYTES` waiting to be written to one connection before QoS 0 is dropped; twice this disconnects the slow consumer")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "close connections that send no CONNECT within this `DURATION`")
	fs.IntVar(&c.EventLoops, "event-loops", 0, "number of event loops (`N`); 0 = one per CPU")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&o.pprof, "pprof", "", "serve net/http/pprof on `ADDR` (e.g. 127.0.0.1:6060); empty = off")
	fs.StringVar(&o.shared, "shared-strategy", "round-robin", "how a shared subscription ($share/group/filter, $queue/filter) picks its member: round-robin, random, hash-client (one publisher's messages stick to one member) or hash-topic (one topic sticks to one member)")
	fs.IntVar(&o.gcPct, "gc-percent", 25, "Go GC target `PERCENT` (like GOGC, which wins when set). The publish path barely allocates, so a low value costs little CPU and keeps idle connections' memory close to what they use")
	fs.StringVar(&o.profile, "profile", "", "write a profile at shutdown: cpu, mem, block, mutex or trace (`KIND`), into the current directory")
	o.lst.register(fs)
	for _, mk := range groupMakers {
		g := mk()
		g.register(fs)
		o.groups = append(o.groups, g)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a flag (see cp7 -h)", fs.Arg(0))
	}
	set, keys, err := loadConfig(fs, getenv)
	if err != nil {
		return nil, err
	}
	o.set = set
	if err := o.check(); err != nil {
		return nil, locate(err, o.config, keys, set)
	}
	return o, nil
}

// check turns the parsed flags into the server's config, refusing values
// that cannot work with the flag's name and what to use instead.
func (o *options) check() error {
	c := &o.cfg
	maxKeepAlive, _ := strconv.ParseUint(o.fs.Lookup("max-keepalive").Value.String(), 10, 64)
	if maxKeepAlive > 65535 {
		return fmt.Errorf("-max-keepalive %d is above 65535, the largest keepalive MQTT can express", maxKeepAlive)
	}
	c.MaxKeepAlive = uint16(maxKeepAlive)
	if _, err := parseLevel(o.logLevel); err != nil {
		return err
	}
	switch o.shared {
	case "round-robin":
		c.SharedStrategy = router.SharedRoundRobin
	case "random":
		c.SharedStrategy = router.SharedRandom
	case "hash-client":
		c.SharedStrategy = router.SharedHashClientID
	case "hash-topic":
		c.SharedStrategy = router.SharedHashTopic
	default:
		return fmt.Errorf("-shared-strategy %q: use round-robin, random, hash-client or hash-topic", o.shared)
	}
	if err := o.lst.apply(c); err != nil {
		return err
	}
	for _, g := range o.groups {
		if err := g.apply(o); err != nil {
			return err
		}
	}
	return c.Validate()
}

// parseLevel reads a -log-level value.
func parseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("-log-level %q is not a level: use debug, info, warn or error", level)
}

// newLogger logs at o.level, which SIGHUP may change.
func newLogger(o *options) (*slog.Logger, error) {
	lv, err := parseLevel(o.logLevel)
	if err != nil {
		return nil, err
	}
	o.level.Set(lv)
	opts := &slog.HandlerOptions{Level: &o.level}
	switch o.logFormat {
	case "", "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: use text or json", o.logFormat)
}

func startProfile(kind string) (interface{ Stop() }, error) {
	opts := []func(*profile.Profile){profile.ProfilePath("."), profile.NoShutdownHook, profile.Quiet}
	switch kind {
	case "":
		return nil, nil
	case "cpu":
		opts = append(opts, profile.CPUProfile)
	case "mem":
		opts = append(opts, profile.MemProfile)
	case "block":
		opts = append(opts, profile.BlockProfile)
	case "mutex":
		opts = append(opts, profile.MutexProfile)
	case "trace":
		opts = append(opts, profile.TraceProfile)
	default:
		return nil, fmt.Errorf("-profile %q is not a profile kind: use cpu, mem, block, mutex or trace", kind)
	}
	return profile.Start(opts...), nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := newLogger(o)
	if err != nil {
		return err
	}
	if o.config != "" {
		log.Info("settings read", "config", o.config, "keys_from_file", countSource(o.set, fromFile))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(o.gcPct)
	}
	prof, err := startProfile(o.profile)
	if err != nil {
		return err
	}
	if prof != nil {
		defer prof.Stop()
	}
	if o.pprof != "" {
		ln, err := net.Listen("tcp", o.pprof)
		if err != nil {
			return fmt.Errorf("-pprof %s: %w", o.pprof, err)
		}
		log.Info("pprof listening", "addr", ln.Addr().String())
		go func() { _ = http.Serve(ln, nil) }()
	}
	for _, g := range o.groups {
		if p, ok := g.(preparer); ok {
			if err := p.prepare(o, log); err != nil {
				return err
			}
		}
	}
	defer func() {
		for _, g := range o.groups {
			if c, ok := g.(closer); ok {
				c.close()
			}
		}
	}()
	srv, err := server.New(o.cfg, log)
	if err != nil {
		return err
	}
	// /readyz fails until every listener below is up.
	srv.HoldReady("listeners", "starting")
	for _, g := range o.groups {
		if a, ok := g.(attacher); ok {
			if err := a.attach(srv, log); err != nil {
				return err
			}
		}
	}
	if err := srv.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopListeners, err := o.lst.start(ctx, srv, log)
	if err != nil {
		_ = srv.Close()
		return err
	}
	for _, g := range o.groups {
		st, ok := g.(starter)
		if !ok {
			continue
		}
		stop, err := st.start(ctx, srv, log)
		if err != nil {
			stopListeners()
			_ = srv.Close()
			return err
		}
		prev := stopListeners
		stopListeners = func() { stop(); prev() }
	}
	srv.ReleaseReady("listeners")
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	for s := range sig {
		if s == syscall.SIGHUP {
			reloadSettings(args, o, log)
			o.lst.reload(log)
			for _, g := range o.groups {
				if r, ok := g.(reloader); ok {
					r.reload(log)
				}
			}
			continue
		}
		log.Info("shutting down", "signal", s.String())
		break
	}
	return shutdown(srv, stopListeners, cancel, o.shutdownTimeout, log)
}
