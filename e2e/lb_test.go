package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// The load-balancer tests run the deployment of deploy/: devices connect
// over TLS to HAProxy or NGINX, which terminates TLS and forwards plain TCP
// with a PROXY protocol header to one of two cp7 nodes. They check that
//   - publish/subscribe works through the load balancer,
//   - each node sees the devices' own addresses (from the PROXY header), not
//     the load balancer's,
//   - when a node dies, new connections go to the other one.
// The configs are rendered from templates of the same shape as the files in
// deploy/ (loopback addresses, free ports, fast health checks); the deploy
// files themselves are checked by TestDeployHAProxyConfig and
// TestDeployNginxConfig.

// Client source addresses: all of 127.0.0.0/8 is local on Linux, so each
// simulated device connects from its own address.
var sources = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"}

// lbSetup is a running load balancer in front of nodes.
type lbSetup struct {
	name     string
	nodes    []*node
	tlsURL   string // tls://127.0.0.1:port
	plainURL string // tcp://127.0.0.1:port
	pki      *testPKI
	// downNow runs after the first failover connection succeeded; it waits
	// until the load balancer has taken the dead node out.
	downNow func(t *testing.T, dead *node)
}

func startNodes(t *testing.T, admin bool) []*node {
	t.Helper()
	var nodes []*node
	for i := 1; i <= 2; i++ {
		args := []string{"-proxy-protocol", "-proxy-trusted", "127.0.0.1/32"}
		if admin {
			args = append(args, "-admin-listen", "127.0.0.1:0")
		}
		nodes = append(nodes, startNode(t, fmt.Sprintf("cp7-%d", i), args...))
	}
	return nodes
}

func procsOf(nodes []*node) []*proc {
	ps := make([]*proc, len(nodes))
	for i, n := range nodes {
		ps[i] = n.proc
	}
	return ps
}

// connectedOn waits for the node log line `msg="client connected"
// client_id=ID ... remote=ADDR` on any of nodes, and returns the node and
// the remote address it logged.
func connectedOn(t *testing.T, nodes []*node, id string) (*node, string) {
	t.Helper()
	re := regexp.MustCompile(`msg="client connected" client_id=` + regexp.QuoteMeta(id) + ` .*?remote=(\S+)`)
	p, line := waitLine(t, procsOf(nodes), re, eventTimeout)
	for _, n := range nodes {
		if n.proc == p {
			return n, re.FindStringSubmatch(line)[1]
		}
	}
	panic("unreachable")
}

// assertRemote fails unless remote is src with some port.
func assertRemote(t *testing.T, n *node, id, remote, src string) {
	t.Helper()
	if !strings.HasPrefix(remote, src+":") {
		t.Errorf("e2e: %s logged client %s with remote=%s, want %s:PORT (the device's address from the PROXY header; 127.0.0.1 would be the load balancer's)",
			n.name, id, remote, src)
	}
}

// runLBScenario is the part common to HAProxy and NGINX.
func runLBScenario(t *testing.T, lb *lbSetup) {
	topic := "e2e/lb/" + nonce(t)
	tlsOpts := func(src string) clientOpts {
		return clientOpts{url: lb.tlsURL, tls: lb.pki.clientTLS(), source: src}
	}

	// 1. A round trip through the load balancer. Subscriber and publisher
	// connect from the same address, so source hashing puts them on the
	// same node (CP7 nodes do not share subscriptions).
	src := sources[0]
	sub := mustConnect(t, "e2e-sub-11", tlsOpts(src))
	sub.subscribe(t, topic, 1)
	pub := mustConnect(t, "e2e-pub-11", tlsOpts(src))
	pub.publish(t, topic, 1, "through "+lb.name)
	sub.expect(t, topic, "through "+lb.name)

	// 2. The nodes see the devices' addresses.
	home, remote := connectedOn(t, lb.nodes, "e2e-sub-11")
	assertRemote(t, home, "e2e-sub-11", remote, src)
	n, remote := connectedOn(t, lb.nodes, "e2e-pub-11")
	assertRemote(t, n, "e2e-pub-11", remote, src)
	if n != home {
		t.Errorf("e2e: subscriber and publisher from %s landed on %s and %s; %s should pin one source address to one node",
			src, home.name, n.name, lb.name)
	}
	placed := map[string]string{src: home.name}
	for _, s := range sources[1:] {
		id := "e2e-dev-" + s[strings.LastIndexByte(s, '.')+1:]
		c := mustConnect(t, id, tlsOpts(s))
		n, remote := connectedOn(t, lb.nodes, id)
		assertRemote(t, n, id, remote, s)
		placed[s] = n.name
		c.c.Disconnect(0)
	}
	// The plain (non-TLS) frontend also sends PROXY headers.
	plainSrc := "127.0.0.15"
	c := mustConnect(t, "e2e-plain-15", clientOpts{url: lb.plainURL, source: plainSrc})
	n, remote = connectedOn(t, lb.nodes, "e2e-plain-15")
	assertRemote(t, n, "e2e-plain-15", remote, plainSrc)
	placed[plainSrc+" (plain)"] = n.name
	c.c.Disconnect(0)
	t.Logf("%s placed devices by source address: %v", lb.name, placed)

	// 3. Failover: kill the node that 127.0.0.11 hashes to; a device from
	// that address reconnecting must get through to the other node.
	var alive *node
	for _, n := range lb.nodes {
		if n != home {
			alive = n
		}
	}
	home.signal(syscall.SIGKILL)
	select {
	case <-home.done:
	case <-time.After(eventTimeout):
		t.Fatalf("e2e: %s still running %v after SIGKILL", home.name, eventTimeout)
	}
	start := time.Now()
	deadline := start.Add(2 * eventTimeout)
	var fc *client
	var errs []string
	for attempt := 1; attempt <= 20; attempt++ {
		id := fmt.Sprintf("e2e-failover-%d", attempt)
		cl, err := connect(t, id, tlsOpts(src))
		if err == nil {
			fc = cl
			break
		}
		errs = append(errs, err.Error())
		if time.Now().After(deadline) {
			break
		}
		// A device backs off before reconnecting (bounded: 20 attempts).
		<-time.After(200 * time.Millisecond)
	}
	if fc == nil {
		t.Fatalf("e2e: after %s died, no connection from %s got through %s within %v; attempts:\n%s",
			home.name, src, lb.name, time.Since(start).Round(time.Millisecond), strings.Join(errs, "\n"))
	}
	t.Logf("%s: %s killed; %s reconnected through %s after %d failed attempts in %v %q",
		lb.name, home.name, src, lb.name, len(errs), time.Since(start).Round(time.Millisecond), errs)
	n, remote = connectedOn(t, []*node{alive}, fc.id)
	assertRemote(t, n, fc.id, remote, src)
	fc.subscribe(t, topic, 0)
	fc.publish(t, topic, 0, "after failover")
	fc.expect(t, topic, "after failover")

	// 4. The load balancer has taken the dead node out (HAProxy: its health
	// check; NGINX: the failed connect), so every device that hashed to it
	// now gets the other node at the first try.
	lb.downNow(t, home)
	moved := 0
	for s, name := range placed {
		if name != home.name || strings.HasSuffix(s, "(plain)") {
			continue
		}
		id := "e2e-moved-" + s[strings.LastIndexByte(s, '.')+1:]
		c := mustConnect(t, id, tlsOpts(s))
		n, remote := connectedOn(t, []*node{alive}, id)
		assertRemote(t, n, id, remote, s)
		c.c.Disconnect(0)
		moved++
	}
	t.Logf("%s: %d device addresses moved from %s to %s", lb.name, moved, home.name, alive.name)
}

// --- HAProxy -----------------------------------------------------------------

// haproxyTmpl has the shape of deploy/haproxy/haproxy.cfg, with loopback
// addresses, a stats socket to watch health, fast checks, and no
// chroot/user/daemon (the test runs it in the foreground as itself).
var haproxyTmpl = template.Must(template.New("haproxy").Parse(`
global
	maxconn 1000
	log stdout format raw local0 info
	stats socket {{.Dir}}/stats.sock mode 600 level admin
	ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets

defaults
	mode tcp
	log global
	option tcplog
	option dontlognull
	retries 3
	option redispatch 1
	timeout connect 2s
	timeout client 10m
	timeout server 10m
	timeout tunnel 10m
	timeout client-fin 30s
	timeout server-fin 30s
	timeout check 1s
	maxconn 1000

frontend mqtt_tls
	bind 127.0.0.1:{{.TLSPort}} ssl crt {{.PEM}} alpn mqtt
	default_backend cp7_nodes

frontend mqtt_plain
	bind 127.0.0.1:{{.PlainPort}}
	default_backend cp7_nodes

backend cp7_nodes
	balance source
	hash-type consistent
	option httpchk
	http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host cp7
	http-check expect status 200
	default-server check inter 200ms fastinter 100ms fall 2 rise 1 observe layer4 error-limit 10 on-error mark-down send-proxy-v2 on-marked-down shutdown-sessions
{{- range .Nodes}}
	server {{.Name}} {{.Addr}} port {{.AdminPort}}
{{- end}}
`))

type haproxyNode struct{ Name, Addr, AdminPort string }

func TestHAProxyTLSProxyV2(t *testing.T) {
	skipShort(t)
	bin := requireTool(t, "haproxy")
	pki := newPKI(t)
	nodes := startNodes(t, true)

	dir := t.TempDir()
	data := struct {
		Dir, PEM           string
		TLSPort, PlainPort int
		Nodes              []haproxyNode
	}{Dir: dir, PEM: pki.pemFile, TLSPort: freePort(t), PlainPort: freePort(t)}
	for _, n := range nodes {
		data.Nodes = append(data.Nodes, haproxyNode{n.name, n.mqtt, port(t, n.admin)})
	}
	var cfg strings.Builder
	if err := haproxyTmpl.Execute(&cfg, data); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, cfgPath, []byte(cfg.String()))

	hp := startProc(t, "haproxy", dir, bin, "-db", "-f", cfgPath)
	waitListening(t, hp, fmt.Sprintf("127.0.0.1:%d", data.TLSPort))
	waitListening(t, hp, fmt.Sprintf("127.0.0.1:%d", data.PlainPort))
	sock := filepath.Join(dir, "stats.sock")
	for _, n := range nodes {
		waitServerStatus(t, hp, sock, n.name, "UP")
	}

	runLBScenario(t, &lbSetup{
		name:     "HAProxy",
		nodes:    nodes,
		tlsURL:   fmt.Sprintf("tls://127.0.0.1:%d", data.TLSPort),
		plainURL: fmt.Sprintf("tcp://127.0.0.1:%d", data.PlainPort),
		pki:      pki,
		downNow: func(t *testing.T, dead *node) {
			// The health check (GET /healthz on the admin port) saw it.
			waitServerStatus(t, hp, sock, dead.name, "DOWN")
		},
	})
}

// waitServerStatus polls HAProxy's stats socket until backend server name
// has status want ("UP", "DOWN"). HAProxy logs each state change, so the
// poll wakes on its output.
func waitServerStatus(t *testing.T, hp *proc, sock, name, want string) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	var last string
	for attempt := 0; attempt < 1000; attempt++ {
		st, err := serverStatus(sock, name)
		if err == nil && st == want {
			return
		}
		last = st
		if err != nil {
			last = err.Error()
		}
		if hp.exited() {
			t.Fatalf("e2e: haproxy exited:\n%s", hp.output())
		}
		if time.Now().After(deadline) {
			break
		}
		hp.waitChange(50 * time.Millisecond)
	}
	t.Fatalf("e2e: HAProxy server %s is %q, want %q within %v", name, last, want, eventTimeout)
}

// serverStatus reads the status column of one server from `show stat`.
func serverStatus(sock, name string) (string, error) {
	out, err := unixQuery(sock, "show stat")
	if err != nil {
		return "", err
	}
	lines := strings.Split(out, "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return "", fmt.Errorf("unexpected show stat output %q", out)
	}
	header := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	col := -1
	for i, h := range header {
		if h == "status" {
			col = i
		}
	}
	if col < 0 {
		return "", fmt.Errorf("no status column in %q", lines[0])
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) > col && f[0] == "cp7_nodes" && f[1] == name {
			return f[col], nil
		}
	}
	return "", fmt.Errorf("server %s not in show stat", name)
}

// --- NGINX --------------------------------------------------------------------

const nginxStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// nginxTmpl has the shape of deploy/nginx/nginx.conf, with loopback
// addresses, files in the test's directory, and one worker.
var nginxTmpl = template.Must(template.New("nginx").Parse(`
load_module {{.Module}};
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log stderr info;

events {
	worker_connections 1024;
}

stream {
	upstream cp7_nodes {
		hash $remote_addr consistent;
{{- range .Nodes}}
		server {{.}} max_fails=1 fail_timeout=30s;
{{- end}}
	}

	log_format mqtt '$remote_addr:$remote_port $protocol $status $bytes_sent $bytes_received $session_time "$upstream_addr"';
	access_log {{.Dir}}/mqtt.log mqtt;

	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_session_cache shared:MQTT:1m;
	ssl_session_tickets off;
	ssl_handshake_timeout 10s;

	server {
		listen 127.0.0.1:{{.TLSPort}} ssl;
		ssl_certificate     {{.Cert}};
		ssl_certificate_key {{.Key}};
		proxy_pass cp7_nodes;
		proxy_protocol on;
		proxy_connect_timeout 2s;
		proxy_next_upstream on;
		proxy_next_upstream_tries 2;
		proxy_next_upstream_timeout 5s;
		proxy_timeout 10m;
	}

	server {
		listen 127.0.0.1:{{.PlainPort}};
		proxy_pass cp7_nodes;
		proxy_protocol on;
		proxy_connect_timeout 2s;
		proxy_next_upstream on;
		proxy_next_upstream_tries 2;
		proxy_next_upstream_timeout 5s;
		proxy_timeout 10m;
	}
}
`))

func TestNginxStreamTLSProxyV1(t *testing.T) {
	skipShort(t)
	bin := requireTool(t, "nginx")
	requireFile(t, "libnginx-mod-stream", nginxStreamModule)
	pki := newPKI(t)
	nodes := startNodes(t, false)

	dir := t.TempDir()
	data := struct {
		Module, Dir, Cert, Key string
		TLSPort, PlainPort     int
		Nodes                  []string
	}{Module: nginxStreamModule, Dir: dir, Cert: pki.certFile, Key: pki.keyFile,
		TLSPort: freePort(t), PlainPort: freePort(t)}
	for _, n := range nodes {
		data.Nodes = append(data.Nodes, n.mqtt)
	}
	var cfg strings.Builder
	if err := nginxTmpl.Execute(&cfg, data); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "nginx.conf")
	writeFile(t, cfgPath, []byte(cfg.String()))

	ng := startProc(t, "nginx", dir, bin, "-p", dir, "-c", cfgPath, "-e", "stderr", "-g", "daemon off;")
	waitListening(t, ng, fmt.Sprintf("127.0.0.1:%d", data.TLSPort))
	waitListening(t, ng, fmt.Sprintf("127.0.0.1:%d", data.PlainPort))

	runLBScenario(t, &lbSetup{
		name:     "NGINX",
		nodes:    nodes,
		tlsURL:   fmt.Sprintf("tls://127.0.0.1:%d", data.TLSPort),
		plainURL: fmt.Sprintf("tcp://127.0.0.1:%d", data.PlainPort),
		pki:      pki,
		downNow: func(t *testing.T, dead *node) {
			// Passive health: NGINX logged the refused connection to the
			// dead node and moved on to the next one.
			re := regexp.MustCompile(`connect\(\) failed .*upstream: "` + regexp.QuoteMeta(dead.mqtt) + `"`)
			waitLine(t, []*proc{ng}, re, eventTimeout)
		},
	})
	ng.signal(syscall.SIGQUIT) // graceful stop; t.Cleanup kills what is left
}

// --- the deploy files themselves -----------------------------------------------

// deployFile reads a file under deploy/ and replaces each old with new,
// failing when an old string is absent (the file changed shape).
func deployFile(t *testing.T, rel string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", rel))
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	s := string(b)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			t.Fatalf("e2e: deploy/%s no longer contains %q; update this test with it", rel, repl[i])
		}
		s = strings.ReplaceAll(s, repl[i], repl[i+1])
	}
	return s
}

// durationDirective returns the value of the first "name value" line.
func durationDirective(t *testing.T, conf, name string) time.Duration {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s+(\d+)(ms|s|m|h)\s*;?\s*$`)
	m := re.FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("e2e: no %q line with a duration", name)
	}
	d, err := time.ParseDuration(m[1] + m[2])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A 60 s keepalive is common; the broker allows 1.5 x keepalive of
// silence [MQTT-3.1.2-24], so a load balancer must allow at least that.
const minIdleTimeout = 90 * time.Second

// TestDeployHAProxyConfig checks deploy/haproxy/haproxy.cfg with
// `haproxy -c` (only the certificate path is replaced) and its MQTT
// timeouts.
func TestDeployHAProxyConfig(t *testing.T) {
	skipShort(t)
	bin := requireTool(t, "haproxy")
	pki := newPKI(t)
	conf := deployFile(t, "haproxy/haproxy.cfg", "/etc/cp7/tls/cp7.pem", pki.pemFile)
	for _, want := range []string{"send-proxy-v2", "balance source", "option httpchk", "/healthz", "default_backend cp7_nodes", "backend cp7_nodes"} {
		if !strings.Contains(conf, want) {
			t.Errorf("e2e: deploy/haproxy/haproxy.cfg lacks %q", want)
		}
	}
	for _, name := range []string{"timeout client", "timeout server", "timeout tunnel"} {
		if d := durationDirective(t, conf, name); d < minIdleTimeout {
			t.Errorf("e2e: deploy/haproxy/haproxy.cfg: %s %v is shorter than %v: idle MQTT devices would be cut", name, d, minIdleTimeout)
		}
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, path, []byte(conf))
	out, err := runBounded(bin, "-c", "-f", path)
	if err != nil || !strings.Contains(out, "Configuration file is valid") {
		t.Fatalf("e2e: haproxy -c rejects deploy/haproxy/haproxy.cfg: %v\n%s", err, out)
	}
	if strings.Contains(out, "[WARNING]") {
		t.Errorf("e2e: haproxy -c warns about deploy/haproxy/haproxy.cfg:\n%s", out)
	}
}

// TestDeployNginxConfig checks deploy/nginx/nginx.conf with `nginx -t`
// (certificate, log and pid paths moved into a temporary directory) and
// its MQTT timeout.
func TestDeployNginxConfig(t *testing.T) {
	skipShort(t)
	bin := requireTool(t, "nginx")
	requireFile(t, "libnginx-mod-stream", nginxStreamModule)
	pki := newPKI(t)
	dir := t.TempDir()
	conf := deployFile(t, "nginx/nginx.conf",
		"/etc/cp7/tls/cp7.crt", pki.certFile,
		"/etc/cp7/tls/cp7.key", pki.keyFile,
		"/var/log/nginx/", dir+"/",
		"/run/nginx.pid", filepath.Join(dir, "nginx.pid"))
	for _, want := range []string{"proxy_protocol on;", "hash $remote_addr consistent;", "max_fails=", "fail_timeout=", nginxStreamModule} {
		if !strings.Contains(conf, want) {
			t.Errorf("e2e: deploy/nginx/nginx.conf lacks %q", want)
		}
	}
	if d := durationDirective(t, conf, "proxy_timeout"); d < minIdleTimeout {
		t.Errorf("e2e: deploy/nginx/nginx.conf: proxy_timeout %v is shorter than %v: idle MQTT devices would be cut", d, minIdleTimeout)
	}
	path := filepath.Join(dir, "nginx.conf")
	writeFile(t, path, []byte(conf))
	out, err := runBounded(bin, "-t", "-p", dir, "-e", "stderr", "-c", path)
	if err != nil || !strings.Contains(out, "test is successful") {
		t.Fatalf("e2e: nginx -t rejects deploy/nginx/nginx.conf: %v\n%s", err, out)
	}
}
