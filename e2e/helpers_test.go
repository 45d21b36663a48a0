package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cp7/cp7/internal/testpki"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Deadlines. They are generous: reaching one means something is broken, not
// slow. None is a sleep: every wait ends as soon as its event happens.
const (
	startTimeout = 20 * time.Second // a process listening
	eventTimeout = 10 * time.Second // a log line, a message, a health change
)

// buildDir holds the cp7 binary built once for the whole package.
var (
	buildDir  string
	buildOnce sync.Once
	cp7Bin    string
	buildErr  error
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "cp7-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot make a temporary directory:", err)
		os.Exit(1)
	}
	buildDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// repoRoot is the directory of the module's go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("e2e: go env GOMOD: %v (is the go tool on PATH?)", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatal("e2e: not inside the cp7 module: run go test from the repository")
	}
	return filepath.Dir(mod)
}

// cp7Binary builds ./cmd/cp7 once per test binary and returns its path.
func cp7Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root := repoRoot(t)
		bin := filepath.Join(buildDir, "cp7")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/cp7")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/cp7: %v\n%s", err, out)
			return
		}
		cp7Bin = bin
	})
	if buildErr != nil {
		t.Fatalf("e2e: %v", buildErr)
	}
	return cp7Bin
}

// requireTool returns the path of an installed program, or skips the test
// (fails it under CI=true) saying how to install it.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(t, name)
	return ""
}

// requireFile skips (fails under CI=true) when path does not exist.
func requireFile(t testing.TB, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		missing(t, what+" ("+path+")")
	}
}

func missing(t testing.TB, what string) {
	t.Helper()
	msg := "e2e: " + what + " not installed: run scripts/install-e2e-deps.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: runs real processes; skipped with -short")
	}
}

// freePort returns a loopback TCP port that was free a moment ago, for
// programs that cannot report the port they bound (HAProxy, NGINX).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: no free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts TCP connections, failing when p
// exits first or the deadline passes.
func waitListening(t testing.TB, p *proc, addr string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for attempt := 0; ; attempt++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if p.exited() {
			t.Fatalf("e2e: %s exited before listening on %s:\n%s", p.name, addr, p.output())
		}
		if time.Now().After(deadline) || attempt > 2000 {
			t.Fatalf("e2e: nothing listening on %s after %v: %v", addr, startTimeout, err)
		}
		// Back off a little between refused dials (a refused dial on
		// loopback returns at once), but wake as soon as the process logs
		// something or exits.
		p.waitChange(20 * time.Millisecond)
	}
}

// proc is a child process whose output is kept line by line, so tests can
// wait for a line with a deadline.
type proc struct {
	name string
	cmd  *exec.Cmd

	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced on each new line or exit
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// startProc starts bin with args in dir (the test's temp dir when ""), in
// its own process group, and kills the group in t.Cleanup.
func startProc(t testing.TB, name, dir, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, changed: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	p.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	// Own process group, so Chromium's helper processes go with it; and
	// killed if the test binary dies first.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("e2e: start %s (%s): %v", name, bin, err)
	}
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.flushLocked()
		p.mu.Unlock()
		close(p.done)
		p.notify()
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s (%s) ---\n%s", name, strings.Join(p.cmd.Args, " "), p.output())
		}
	})
	return p
}

// Write collects output; exec calls it from one goroutine.
func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.partial = append(p.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.lines = append(p.lines, string(p.partial[:i]))
		p.partial = p.partial[i+1:]
		added = true
	}
	p.mu.Unlock()
	if added {
		p.notify()
	}
	return len(b), nil
}

func (p *proc) flushLocked() {
	if len(p.partial) > 0 {
		p.lines = append(p.lines, string(p.partial))
		p.partial = nil
	}
}

func (p *proc) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// waitChange returns when a line arrives, the process exits, or d passes.
func (p *proc) waitChange(d time.Duration) {
	p.mu.Lock()
	ch := p.changed
	p.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// find returns the first line matching re, starting at line from, and the
// index after it.
func (p *proc) find(re *regexp.Regexp, from int) (string, int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; i < len(p.lines); i++ {
		if re.MatchString(p.lines[i]) {
			return p.lines[i], i + 1, true
		}
	}
	return "", len(p.lines), false
}

// waitLine waits for a line matching re in any of procs and returns the
// process and the line.
func waitLine(t testing.TB, procs []*proc, re *regexp.Regexp, timeout time.Duration) (*proc, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, p := range procs {
			if line, _, ok := p.find(re, 0); ok {
				return p, line
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			names := make([]string, len(procs))
			for i, p := range procs {
				names[i] = p.name
			}
			t.Fatalf("e2e: no line matching %q in the output of %v within %v", re, names, timeout)
		}
		// Wake on the first process that writes; bounded by the deadline.
		waitAnyChange(procs, left)
	}
}

func waitAnyChange(procs []*proc, d time.Duration) {
	cases := make(chan struct{}, len(procs))
	stop := make(chan struct{})
	defer close(stop)
	for _, p := range procs {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		go func() {
			select {
			case <-ch:
				cases <- struct{}{}
			case <-stop:
			}
		}()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-cases:
	case <-t.C:
	}
}

// signal sends sig to the process (not its group).
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil && !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill ends the process group and waits (bounded) for the exit.
func (p *proc) kill() {
	if p.cmd.Process == nil {
		return
	}
	if !p.exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// stop sends SIGTERM and waits for the exit, then kills the group.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(eventTimeout):
		t.Logf("e2e: %s did not exit within %v of SIGTERM; killing it", p.name, eventTimeout)
	}
	p.kill()
}

// --- cp7 nodes ------------------------------------------------------------

// node is a running cp7 process.
type node struct {
	*proc
	mqtt  string // MQTT/TCP address (host:port)
	admin string // admin HTTP address, "" when off
}

var (
	reTCPAddr   = regexp.MustCompile(`msg=listening transport=tcp addr=(\S+)`)
	reAdminAddr = regexp.MustCompile(`msg=listening transport=admin-http addr=(\S+)`)
)

// startNode runs cp7 with the listeners off except MQTT/TCP on a free
// loopback port (plus extra args), and returns once it listens.
func startNode(t testing.TB, name string, extra ...string) *node {
	t.Helper()
	args := []string{"-listen", "127.0.0.1:0", "-tls-listen", "", "-ws-listen", "", "-wss-listen", "", "-admin-listen", "", "-log-level", "info"}
	args = append(args, extra...)
	p := startProc(t, name, t.TempDir(), cp7Binary(t), args...)
	n := &node{proc: p}
	_, line := waitLine(t, []*proc{p}, reTCPAddr, startTimeout)
	n.mqtt = reTCPAddr.FindStringSubmatch(line)[1]
	for _, a := range extra {
		if a == "-admin-listen" {
			_, line := waitLine(t, []*proc{p}, reAdminAddr, startTimeout)
			n.admin = reAdminAddr.FindStringSubmatch(line)[1]
		}
	}
	waitListening(t, p, n.mqtt)
	return n
}

func port(t testing.TB, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("e2e: address %q: %v", addr, err)
	}
	return p
}

// --- certificates ---------------------------------------------------------

// testPKI is a CA and a server certificate for 127.0.0.1 and localhost,
// made in the test (no private key is checked in) and written as PEM files.
type testPKI struct {
	pool     *x509.CertPool
	certFile string // server chain (leaf, then CA)
	keyFile  string
	pemFile  string // chain followed by the key, as HAProxy wants it
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	ca, err := testpki.NewCA("cp7 e2e test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(2, "localhost", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	chain := append(leaf.CertPEM(), ca.PEM()...)
	keyPEM := leaf.KeyPEM()
	dir := t.TempDir()
	p := &testPKI{
		pool:     ca.Pool(),
		certFile: filepath.Join(dir, "server.crt"),
		keyFile:  filepath.Join(dir, "server.key"),
		pemFile:  filepath.Join(dir, "server.pem"),
	}
	writeFile(t, p.certFile, chain)
	writeFile(t, p.keyFile, keyPEM)
	writeFile(t, p.pemFile, append(append([]byte{}, chain...), keyPEM...))
	return p
}

// clientTLS trusts only the test CA.
func (p *testPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatalf("e2e: write %s: %v", name, err)
	}
}

// --- MQTT clients -----------------------------------------------------------

// client is a paho MQTT 3.1.1 client whose received messages arrive on a
// channel.
type client struct {
	id   string
	c    mqtt.Client
	msgs chan mqtt.Message
}

// clientOpts describe how to reach the broker.
type clientOpts struct {
	url    string      // tcp://, tls://, ws:// or wss://
	tls    *tls.Config // for tls:// and wss://
	source string      // local IP to connect from (tcp/tls), "" = any
}

// connect connects once (no retries, no auto-reconnect) and returns the
// error of the attempt.
func connect(t testing.TB, id string, o clientOpts) (*client, error) {
	t.Helper()
	cl := &client{id: id, msgs: make(chan mqtt.Message, 64)}
	opts := mqtt.NewClientOptions().
		AddBroker(o.url).
		SetClientID(id).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(5 * time.Second).
		SetWriteTimeout(5 * time.Second).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			select {
			case cl.msgs <- m:
			default: // the test reads what it expects; never block paho
			}
		})
	if o.tls != nil {
		opts.SetTLSConfig(o.tls)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	if o.source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.source)}
	}
	opts.SetDialer(d)
	cl.c = mqtt.NewClient(opts)
	tok := cl.c.Connect()
	if !tok.WaitTimeout(eventTimeout) {
		cl.c.Disconnect(0)
		return nil, fmt.Errorf("connect %s as %s: no CONNACK within %v", o.url, id, eventTimeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect %s as %s: %w", o.url, id, err)
	}
	t.Cleanup(func() { cl.c.Disconnect(0) })
	return cl, nil
}

func mustConnect(t testing.TB, id string, o clientOpts) *client {
	t.Helper()
	cl, err := connect(t, id, o)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return cl
}

func (cl *client) subscribe(t testing.TB, filter string, qos byte) {
	t.Helper()
	tok := cl.c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(eventTimeout) {
		t.Fatalf("e2e: %s: no SUBACK for %q within %v", cl.id, filter, eventTimeout)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("e2e: %s: subscribe %q: %v", cl.id, filter, err)
	}
}

func (cl *client) publish(t testing.TB, topic string, qos byte, payload string) {
	t.Helper()
	tok := cl.c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(eventTimeout) {
		t.Fatalf("e2e: %s: publish to %q not completed within %v", cl.id, topic, eventTimeout)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("e2e: %s: publish to %q: %v", cl.id, topic, err)
	}
}

// expect waits for a message on topic with payload; other messages fail.
func (cl *client) expect(t testing.TB, topic, payload string) {
	t.Helper()
	select {
	case m := <-cl.msgs:
		if m.Topic() != topic || string(m.Payload()) != payload {
			t.Fatalf("e2e: %s got %q on %q, want %q on %q", cl.id, m.Payload(), m.Topic(), payload, topic)
		}
	case <-time.After(eventTimeout):
		t.Fatalf("e2e: %s: no message on %q within %v", cl.id, topic, eventTimeout)
	}
}

// --- small things -------------------------------------------------------------

// unixQuery sends one command line to a Unix socket (HAProxy's stats
// socket) and returns everything it answers.
func unixQuery(path, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	var sb strings.Builder
	r := bufio.NewReader(c)
	if _, err := io.Copy(&sb, r); err != nil && !errors.Is(err, io.EOF) {
		return sb.String(), err
	}
	return sb.String(), nil
}

// runBounded runs a short command (a config check) with a deadline and
// returns its combined output.
func runBounded(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// nonce returns a short random hex string.
func nonce(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
