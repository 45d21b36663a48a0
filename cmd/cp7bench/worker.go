package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A worker is one process's share of the run, seen from the coordinator:
// the node in this process, or a child process running its node.
type worker interface {
	stats() nodeStats
	begin()                    // start publishing
	stop()                     // disconnect everything
	final() (nodeFinal, error) // the last counters and the latency histogram, after stop
}

// nodeFinal is what a worker reports at the end.
type nodeFinal struct {
	Stats nodeStats `json:"stats"`
	Hist  histWire  `json:"hist"`
}

// localWorker runs the node in this process.
type localWorker struct{ n *node }

func (w localWorker) stats() nodeStats { return w.n.snapshot() }
func (w localWorker) begin()           { w.n.begin() }
func (w localWorker) stop()            { w.n.stop() }
func (w localWorker) final() (nodeFinal, error) {
	w.n.stop()
	return nodeFinal{Stats: w.n.snapshot(), Hist: w.n.hist.wire()}, nil
}

// Child processes. The parent re-executes its own binary with the same
// arguments and childEnv=K/N; the child runs part K of N and talks over
// stdio, one line per message:
//
//	child -> parent: "STAT {json nodeStats}" every statEvery, "FINAL {json nodeFinal}" once at the end
//	parent -> child: "GO" (start publishing), "STOP" (disconnect and report); EOF acts as STOP
//
// Anything else a child prints (its error messages) goes to stderr unchanged.
const (
	childEnv  = "CP7BENCH_CHILD"
	statEvery = 200 * time.Millisecond
)

// childOf reads childEnv: ok=false when this is not a child.
func childOf() (k, n int, ok bool, err error) {
	v := os.Getenv(childEnv)
	if v == "" {
		return 0, 0, false, nil
	}
	a, b, found := strings.Cut(v, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !found || err1 != nil || err2 != nil || k < 0 || k >= n {
		return 0, 0, false, fmt.Errorf("cp7bench: %s=%q must be K/N with 0 <= K < N", childEnv, v)
	}
	return k, n, true, nil
}

// runChild is main for a child process.
func runChild(cfg *config, p part, stdin io.Reader, stdout, stderr io.Writer) int {
	n := newNode(cfg, p, stderr)
	n.start()
	var outMu sync.Mutex
	emit := func(kind string, v any) {
		b, _ := json.Marshal(v)
		outMu.Lock()
		fmt.Fprintf(stdout, "%s %s\n", kind, b)
		outMu.Unlock()
	}
	stopped := make(chan struct{})
	go func() {
		t := time.NewTicker(statEvery)
		defer t.Stop()
		for {
			select {
			case <-stopped:
				return
			case <-t.C:
				emit("STAT", n.snapshot())
			}
		}
	}()
	sc := bufio.NewScanner(stdin)
loop:
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "GO":
			<-n.connected
			n.begin()
		case "STOP":
			break loop
		}
	}
	n.stop()
	close(stopped)
	emit("FINAL", nodeFinal{Stats: n.snapshot(), Hist: n.hist.wire()})
	return 0
}

// childWorker is the parent's handle on one child process.
type childWorker struct {
	k     int
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu    sync.Mutex
	last  nodeStats
	fin   *nodeFinal
	done  chan struct{} // closed when stdout ends
	errMu sync.Mutex
	err   error
}

func startChild(k, n int, args []string, stderr io.Writer) (*childWorker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cp7bench: cannot find my own binary to start child processes: %v", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d/%d", childEnv, k, n))
	cmd.Stderr = stderr
	// A child must not outlive a parent killed without a chance to say STOP.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cp7bench: start child %d: %v", k, err)
	}
	w := &childWorker{k: k, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go w.readLoop(stdout, stderr)
	return w, nil
}

func (w *childWorker) readLoop(r io.Reader, stderr io.Writer) {
	defer close(w.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // FINAL carries the histogram
	for sc.Scan() {
		line := sc.Text()
		kind, body, _ := strings.Cut(line, " ")
		switch kind {
		case "STAT":
			var s nodeStats
			if json.Unmarshal([]byte(body), &s) == nil {
				w.mu.Lock()
				w.last = s
				w.mu.Unlock()
			}
		case "FINAL":
			var f nodeFinal
			if err := json.Unmarshal([]byte(body), &f); err != nil {
				w.setErr(fmt.Errorf("cp7bench: child %d sent a bad final report: %v", w.k, err))
				continue
			}
			w.mu.Lock()
			w.fin = &f
			w.last = f.Stats
			w.mu.Unlock()
		default:
			fmt.Fprintf(stderr, "cp7bench: child %d: %s\n", w.k, line)
		}
	}
	if err := sc.Err(); err != nil {
		w.setErr(fmt.Errorf("cp7bench: reading child %d: %v", w.k, err))
	}
}

func (w *childWorker) setErr(err error) {
	w.errMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.errMu.Unlock()
}

func (w *childWorker) stats() nodeStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.last
	select {
	case <-w.done: // a child that ended is neither connecting nor publishing
		s.Ready, s.PubDone = true, true
	default:
	}
	return s
}

func (w *childWorker) send(line string) { _, _ = io.WriteString(w.stdin, line+"\n") }
func (w *childWorker) begin()           { w.send("GO") }
func (w *childWorker) stop()            { w.send("STOP") }

// final waits (bounded) for the child's report and its exit.
func (w *childWorker) final() (nodeFinal, error) {
	w.stop()
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
	_ = w.stdin.Close()
	werr := w.cmd.Wait()
	w.mu.Lock()
	fin := w.fin
	w.mu.Unlock()
	w.errMu.Lock()
	err := w.err
	w.errMu.Unlock()
	if fin == nil {
		if err == nil {
			err = fmt.Errorf("cp7bench: child %d ended without a report (%v); see its messages above", w.k, werr)
		}
		return nodeFinal{Stats: w.stats()}, err
	}
	return *fin, err
}

// kill ends a child at once (used when the parent is interrupted).
func (w *childWorker) kill() { _ = w.cmd.Process.Kill() }
