package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server/store"
)

// cp7Binary builds the broker once into a temporary directory.
var cp7Binary = struct {
	once sync.Once
	path string
	err  error
}{}

func buildCP7(t *testing.T) string {
	t.Helper()
	cp7Binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "cp7-bin-")
		if err != nil {
			cp7Binary.err = err
			return
		}
		path := filepath.Join(dir, "cp7")
		args := []string{"build", "-o", path}
		if os.Getenv("CP7_CRASH_RACE") != "" {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			cp7Binary.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		cp7Binary.path = path
	})
	if cp7Binary.err != nil {
		t.Fatal(cp7Binary.err)
	}
	return cp7Binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cp7Binary.path != "" {
		_ = os.RemoveAll(filepath.Dir(cp7Binary.path))
	}
	os.Exit(code)
}

// procBroker is a cp7 process.
type procBroker struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan struct{}
}

// syncBuffer is the broker's stderr, written by exec's copier goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(t *testing.T, bin, addr string, args ...string) *procBroker {
	t.Helper()
	b := &procBroker{addr: addr, stderr: new(syncBuffer)}
	b.cmd = exec.Command(bin, append([]string{"-listen", addr, "-ws-listen", "", "-log-level", "info"}, args...)...)
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("cp7 exited at start:\n%s", b.stderr)
		default:
		}
		if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			b.kill()
			t.Fatalf("cp7 did not listen on %s within 20s:\n%s", addr, b.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.exited = exited
	return b
}

func (b *procBroker) kill() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	if b.exited != nil {
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// rawSub is a persistent 3.1.1 subscriber on a raw socket that keeps its
// QoS 2 receiver state (ids between PUBREC and PUBREL) across
// reconnections, as a client with a persistent session must, so a re-sent
// QoS 2 PUBLISH is not taken for a new message [MQTT-4.3.3-10].
type rawSub struct {
	id      string
	slow    time.Duration
	mu      sync.Mutex
	got     map[string]int // payload → times delivered
	pending map[uint16]bool
	last    time.Time // last packet received
	packets int       // packets received on the current connection
	types   map[codec.PacketType]int
	dupPub  int
	nc      net.Conn
	done    chan struct{}
}

func newRawSub(id string, slow time.Duration) *rawSub {
	return &rawSub{id: id, slow: slow, got: map[string]int{}, pending: map[uint16]bool{}}
}

func readPacket(r *bufio.Reader) (codec.FixedHeader, []byte, error) {
	var hdr [5]byte
	b0, err := r.ReadByte()
	if err != nil {
		return codec.FixedHeader{}, nil, err
	}
	hdr[0] = b0
	n := 1
	for {
		c, err := r.ReadByte()
		if err != nil {
			return codec.FixedHeader{}, nil, err
		}
		hdr[n] = c
		n++
		if c&0x80 == 0 || n == 5 {
			break
		}
	}
	h, err := codec.ParseFixedHeader(hdr[:n])
	if err != nil {
		return h, nil, err
	}
	body := make([]byte, h.Remaining)
	_, err = io.ReadFull(r, body)
	return h, body, err
}

// connect opens a session (clean=false) and reports session present.
func (s *rawSub) connect(addr string, subscribe ...string) (bool, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, err
	}
	_, _ = nc.Write(codec.AppendConnect(nil, &codec.Connect{ProtocolVersion: codec.Version311, ClientID: []byte(s.id)}))
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	h, body, err := readPacket(r)
	if err != nil || h.Type != codec.CONNACK {
		nc.Close()
		return false, fmt.Errorf("no CONNACK for %s: %v %v", s.id, h.Type, err)
	}
	var ack codec.Connack
	if err := ack.Decode(body, codec.Version311); err != nil || ack.ReasonCode != 0 {
		nc.Close()
		return false, fmt.Errorf("CONNACK for %s: %v %v", s.id, ack.ReasonCode, err)
	}
	if len(subscribe) > 0 {
		p := codec.Subscribe{PacketID: 1}
		for _, f := range subscribe {
			p.Subs = append(p.Subs, codec.Subscription{Filter: []byte(f[2:]), QoS: f[0] - '0'})
		}
		_, _ = nc.Write(codec.AppendSubscribe(nil, &p, codec.Version311))
		if h, _, err := readPacket(r); err != nil || h.Type != codec.SUBACK {
			nc.Close()
			return false, fmt.Errorf("no SUBACK for %s: %v", s.id, err)
		}
	}
	_ = nc.SetReadDeadline(time.Time{})
	s.mu.Lock()
	s.last = time.Now() // drain's quiet period starts at the connect
	s.packets = 0
	s.types = nil
	s.mu.Unlock()
	s.nc, s.done = nc, make(chan struct{})
	go s.read(r)
	return ack.SessionPresent, nil
}

// read handles deliveries until the connection ends.
func (s *rawSub) read(r *bufio.Reader) {
	defer close(s.done)
	for {
		h, body, err := readPacket(r)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.last = time.Now()
		s.packets++
		if s.types == nil {
			s.types = map[codec.PacketType]int{}
		}
		s.types[h.Type]++
		s.mu.Unlock()
		switch h.Type {
		case codec.PUBLISH:
			var p codec.Publish
			if p.Decode(h.Flags, body, codec.Version311) != nil {
				return
			}
			s.mu.Lock()
			if p.QoS < 2 || !s.pending[p.PacketID] {
				s.got[string(p.Payload)]++
			} else {
				s.dupPub++
			}
			if p.QoS == 2 {
				s.pending[p.PacketID] = true
			}
			s.mu.Unlock()
			if s.slow > 0 {
				time.Sleep(s.slow)
			}
			switch p.QoS {
			case 1:
				_, _ = s.nc.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.PUBACK, PacketID: p.PacketID}, codec.Version311))
			case 2:
				_, _ = s.nc.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.PUBREC, PacketID: p.PacketID}, codec.Version311))
			}
		case codec.PUBREL:
			var a codec.Ack
			if a.Decode(codec.PUBREL, body, codec.Version311) != nil {
				return
			}
			s.mu.Lock()
			delete(s.pending, a.PacketID)
			s.mu.Unlock()
			_, _ = s.nc.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.PUBCOMP, PacketID: a.PacketID}, codec.Version311))
		}
	}
}

func (s *rawSub) close() {
	if s.nc != nil {
		s.nc.Close()
		<-s.done
		s.nc = nil
	}
}

// drain waits until nothing arrived for quiet, within limit.
func (s *rawSub) drain(quiet, limit time.Duration) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		s.mu.Lock()
		idle := time.Since(s.last)
		s.mu.Unlock()
		if idle > quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// acked is what the publishers were acknowledged.
type acked struct {
	mu  sync.Mutex
	ids map[string]byte // payload → QoS
}

// publish sends numbered QoS 1 and QoS 2 messages with paho until stop or
// the broker dies, recording each one acknowledged.
func publish(addr string, round int, a *acked, stop <-chan struct{}) int {
	const perRound = 1500 // bounds the backlog the slow subscriber must drain at the end
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("crash-pub-%d", round)).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetOrderMatters(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return 0
	}
	defer c.Disconnect(0)
	var wg sync.WaitGroup
	window := make(chan struct{}, 32)
	sent := 0
	for n := 0; ; n++ {
		if n == perRound {
			<-stop
		}
		select {
		case <-stop:
			wg.Wait()
			return sent
		case window <- struct{}{}:
		}
		if !c.IsConnectionOpen() {
			wg.Wait()
			return sent
		}
		qos := byte(1 + n%2)
		payload := fmt.Sprintf("r%d-q%d-%d", round, qos, n)
		tok := c.Publish(fmt.Sprintf("crash/%d", qos), qos, false, payload)
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-window }()
			if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
				a.mu.Lock()
				a.ids[payload] = qos
				a.mu.Unlock()
			}
		}()
	}
}

// TestCrashKeepsAcknowledgedMessages kills cp7 with SIGKILL at random
// moments while paho publishers send numbered QoS 1 and QoS 2 messages to
// two persistent subscribers (one offline throughout, one online and slow),
// restarts it on the same -data-dir each time, and checks that every
// acknowledged message reaches both subscribers (QoS 2 exactly once), that
// the retained messages are intact and that an expired session stays
// expired.
func TestCrashKeepsAcknowledgedMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills cp7 processes")
	}
	t0 := time.Now()
	bin := buildCP7(t)
	t.Logf("cp7 built in %v", time.Since(t0).Round(time.Millisecond))
	dir := t.TempDir()
	addr := freeAddr(t)
	// Restarts alternate -sync batch and -sync none: both promise that an
	// acknowledged message survives kill -9 (none: in the page cache).
	args := func(round int) []string {
		return []string{"-data-dir", dir, "-sync", [2]string{"batch", "none"}[round%2], "-max-queued", "1000000", "-max-inflight", "16", "-store-min-free", "1"}
	}
	b := startProc(t, bin, addr, args(0)...)
	defer func() { b.kill() }()

	off := newRawSub("crash-off", 0)
	on := newRawSub("crash-on", 200*time.Microsecond)
	for _, s := range []*rawSub{off, on} {
		if _, err := s.connect(addr, "1 crash/1", "2 crash/2"); err != nil {
			t.Fatal(err)
		}
	}
	off.close() // offline from now until the end
	defer on.close()
	// A v5 session that expires 1 s after it goes offline.
	expConn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cp := &codec.Connect{ProtocolVersion: codec.Version5, ClientID: []byte("crash-exp")}
	cp.Props.SessionExpiry = 1
	cp.Props.Set(codec.PropSessionExpiry)
	_, _ = expConn.Write(codec.AppendConnect(nil, cp))
	if h, _, err := readPacket(bufio.NewReader(expConn)); err != nil || h.Type != codec.CONNACK {
		t.Fatalf("crash-exp: no CONNACK: %v", err)
	}
	_, _ = expConn.Write(codec.AppendDisconnect(nil, &codec.Disconnect{}, codec.Version5))
	expConn.Close()

	// Retained messages, acknowledged before the first kill.
	const retained = 10
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("crash-ret").SetAutoReconnect(false))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("retained publisher cannot connect")
	}
	for i := range retained {
		tok := pub.Publish(fmt.Sprintf("crash/ret/%d", i), 1, true, fmt.Sprintf("kept-%d", i))
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("retained %d not acknowledged: %v", i, tok.Error())
		}
	}
	pub.Disconnect(0)

	a := &acked{ids: map[string]byte{}}
	const kills = 4
	sent := 0
	for round := range kills {
		if round > 0 {
			b = startProc(t, bin, addr, args(round)...)
			if present, err := on.connect(addr); err != nil || !present {
				t.Fatalf("round %d: online subscriber: present=%v err=%v\n%s", round, present, err, b.stderr)
			}
		}
		stop := make(chan struct{})
		done := make(chan int)
		go func() { done <- publish(addr, round, a, stop) }()
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		b.kill()
		close(stop)
		sent += <-done
		on.close()
	}
	final := args(kills)
	if os.Getenv("CP7_CRASH_DEBUG") != "" {
		final = append(final, "-log-level", "debug")
	}
	b = startProc(t, bin, addr, final...)
	defer func() {
		for _, l := range strings.Split(b.stderr.String(), "\n") {
			if strings.Contains(l, "store:") || t.Failed() && (!strings.Contains(l, "level=INFO") || strings.Contains(l, "crash-on")) {
				t.Log(l)
			}
		}
	}()
	for _, s := range []*rawSub{on, off} {
		present, err := s.connect(addr)
		if err != nil || !present {
			t.Fatalf("%s after the last restart: present=%v err=%v", s.id, present, err)
		}
	}
	on.drain(2*time.Second, 25*time.Second)
	off.drain(2*time.Second, 10*time.Second)

	checked := map[byte]int{}
	dups := 0
	for _, s := range []*rawSub{on, off} {
		s.mu.Lock()
		for payload, qos := range a.ids {
			n := s.got[payload]
			if n == 0 {
				t.Errorf("%s: acknowledged QoS %d message %q never arrived", s.id, qos, payload)
			}
			checked[qos]++
		}
		for payload, n := range s.got {
			if n > 1 && strings.Contains(payload, "-q2-") {
				t.Errorf("%s: QoS 2 message %q arrived %d times", s.id, payload, n)
			}
			if n > 1 {
				dups += n - 1
			}
		}
		s.mu.Unlock()
	}

	if t.Failed() && os.Getenv("CP7_CRASH_DEBUG") != "" {
		b.kill()
		st, err := store.Open(store.Options{Dir: dir, MinFree: 1})
		if err == nil {
			counts := map[string]map[byte]int{}
			msgs := map[uint64]string{}
			var refs []string
			st.Load(store.Visitor{
				Message: func(id uint64, m *store.Msg) { msgs[id] = string(m.Payload) },
				Ref: func(id string, r *store.Ref) {
					if counts[id] == nil {
						counts[id] = map[byte]int{}
					}
					counts[id][r.State]++
					if len(refs) < 20 {
						refs = append(refs, fmt.Sprintf("%s seq=%d msg=%s qos=%d state=%d pid=%d", id, r.Seq, msgs[r.Msg], r.QoS, r.State, r.PID))
					}
				},
			})
			t.Logf("refs left by state: %v\n%s", counts, strings.Join(refs, "\n"))
			st.Close()
		}
		on.mu.Lock()
		t.Logf("crash-on pending QoS 2 ids: %v, packets on the last connection %d %v, QoS 2 re-sends %d", on.pending, on.packets, on.types, on.dupPub)
		on.mu.Unlock()
	}
	// The expired session stays expired.
	expConn, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer expConn.Close()
	cp.Props.SessionExpiry = 0
	_, _ = expConn.Write(codec.AppendConnect(nil, cp))
	h, body, err := readPacket(bufio.NewReader(expConn))
	var ack codec.Connack
	if err != nil || h.Type != codec.CONNACK || ack.Decode(body, codec.Version5) != nil {
		t.Fatalf("crash-exp: no CONNACK: %v", err)
	}
	if ack.SessionPresent {
		t.Error("crash-exp: an expired session came back after restarts")
	}

	// The retained messages are intact.
	got := map[string]string{}
	var gmu sync.Mutex
	rc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("crash-ret-check").SetAutoReconnect(false))
	if tok := rc.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("retained check cannot connect")
	}
	defer rc.Disconnect(0)
	rc.Subscribe("crash/ret/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		gmu.Lock()
		got[m.Topic()] = string(m.Payload())
		gmu.Unlock()
	}).WaitTimeout(5 * time.Second)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		gmu.Lock()
		n := len(got)
		gmu.Unlock()
		if n == retained {
			break
		}
	}
	gmu.Lock()
	for i := range retained {
		if v := got[fmt.Sprintf("crash/ret/%d", i)]; v != fmt.Sprintf("kept-%d", i) {
			t.Errorf("retained crash/ret/%d = %q after restarts", i, v)
		}
	}
	gmu.Unlock()
	t.Logf("%d SIGKILLs (-sync batch and none in turn); %d messages sent, %d acknowledged; checked %d QoS 1 and %d QoS 2 deliveries (acknowledged × 2 persistent subscribers), %d QoS 1 duplicates, 0 QoS 2 duplicates allowed; %d retained intact; expired session stayed expired",
		kills, sent, len(a.ids), checked[1], checked[2], dups, retained)
	if len(a.ids) == 0 {
		t.Error("no message was acknowledged: the test checked nothing")
	}
}

var _ = errors.New
