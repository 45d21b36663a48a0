// Command cp7bench is CP7's MQTT load tool, in the spirit of emqtt-bench:
// idle connections (conn), subscribers (sub), publishers (pub) and both in one
// run (pubsub), with end-to-end latency from a timestamp in the payload, a
// live progress line on a terminal and one SUMMARY line at the end.
//
// Each client is a goroutine with a plain net.Conn (with -tls, a
// crypto/tls client over it); publishing is paced by one
// ticker per process. When one process may not open enough files
// (RLIMIT_NOFILE), the tool re-executes itself as child processes that each
// run a contiguous slice of the clients and report to the parent over stdio.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status (0 ok,
// 1 the run had errors or lost messages it could not account for, 2 usage).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if _, isFile := stderr.(*os.File); !isFile {
		// Child processes and goroutines all write error lines here.
		stderr = &lockedWriter{w: stderr}
	}
	cfg, err := parseConfig(args)
	if errors.Is(err, errHelp) {
		usage(stdout, newFlagSet(&config{}))
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	k, of, isChild, err := childOf()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if isChild {
		// The parent coordinates: an interrupt reaches it and it says STOP;
		// if it dies, stdin ends and the child stops too.
		signal.Ignore(syscall.SIGINT)
		_, _, _ = nofile()
		parts := splitParts(cfg.subs, cfg.pubs, of, cfg.limit)
		return runChild(cfg, parts[k], stdin, stdout, stderr)
	}

	soft, hard, err := nofile()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	total := cfg.subs + cfg.pubs
	need := procsFor(total, soft)
	procs := cfg.procs
	switch {
	case procs == 0:
		procs = need
		if need > 1 {
			fmt.Fprintf(stderr, "cp7bench: RLIMIT_NOFILE allows %d open files per process (hard limit %d); spreading %d clients over %d processes\n",
				soft, hard, total, need)
		}
	case procs < need:
		fmt.Fprintf(stderr, "cp7bench: %d clients need %d processes: RLIMIT_NOFILE allows %d open files per process (hard limit %d) and each keeps %d for itself; use -procs %d or more (or 0 for automatic)\n",
			total, need, soft, hard, fdReserve, need)
		return 2
	}
	procs = min(procs, total)
	warnPorts(cfg, procs, stderr)

	if cfg.brokerPID > 0 {
		if _, err := (brokerProc{pid: cfg.brokerPID}).rssKB(); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	parts := splitParts(cfg.subs, cfg.pubs, procs, cfg.limit)
	var ws []worker
	var children []*childWorker
	if procs == 1 {
		n := newNode(cfg, parts[0], stderr)
		n.start()
		ws = append(ws, localWorker{n})
	} else {
		for k := range procs {
			w, err := startChild(k, procs, args, stderr)
			if err != nil {
				fmt.Fprintln(stderr, err)
				for _, c := range children {
					c.kill()
				}
				return 1
			}
			children = append(children, w)
			ws = append(ws, w)
		}
	}

	if cfg.cpuProf != "" {
		f, err := os.Create(cfg.cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "cp7bench: -cpuprofile %s: %v\n", cfg.cpuProf, err)
			return 2
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)

	c := &coordinator{cfg: cfg, ws: ws, procs: procs, stdout: stdout, stderr: stderr, sig: sig, tty: isTerminal(stdout) && !cfg.quiet}
	if cfg.brokerPID > 0 {
		c.broker = &brokerProc{pid: cfg.brokerPID}
	}
	sum, err := c.run()
	if cfg.json {
		fmt.Fprintln(stdout, sum.JSON())
	} else {
		fmt.Fprintln(stdout, sum.Line())
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if sum.Errors > 0 {
		return 1
	}
	return 0
}

// warnPorts says when the clients per source address exceed the kernel's
// ephemeral port range towards one broker address.
func warnPorts(cfg *config, procs int, stderr io.Writer) {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(data), &lo, &hi); err != nil || hi < lo {
		return
	}
	ports := hi - lo + 1
	addrs := max(len(cfg.srcAddrs), 1)
	per := (cfg.subs + cfg.pubs + addrs - 1) / addrs
	if per > ports {
		fmt.Fprintf(stderr, "cp7bench: %d clients per source address exceed the %d ephemeral ports (net.ipv4.ip_local_port_range %d-%d); spread them with -ifaddr 127.0.0.2-127.0.0.%d\n",
			per, ports, lo, hi, min(1+(cfg.subs+cfg.pubs+ports-1)/ports, 254)+1)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// lockedWriter serialises writes to a writer that is not safe for
// concurrent use (an *os.File is, and is passed to children as is).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
