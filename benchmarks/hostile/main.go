// Command hostile replays the hostile-client probe's cases (issue 10)
// against a broker on loopback, one case per run, for benchmarks/hostile.sh,
// which measures the broker's memory and CPU around each. Every case is
// bounded in connections, bytes and time.
//
//	hostile -addr 127.0.0.1:1883 -case partial|dribble|deep|wildcard|retained|queued
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cp7/cp7/codec"
)

var (
	addr  = flag.String("addr", "127.0.0.1:1883", "broker `ADDR`")
	kase  = flag.String("case", "partial", "case: partial, dribble, deep, wildcard, retained, queued")
	n     = flag.Int("n", 0, "size of the case (connections, filters, messages); 0 = the case's default")
	hold  = flag.Duration("hold", 3*time.Second, "how long partial packets are held")
	limit = flag.Duration("timeout", 60*time.Second, "the whole case's time limit")
)

func main() {
	flag.Parse()
	time.AfterFunc(*limit, func() { fmt.Println("RESULT case=" + *kase + " timed_out=1"); os.Exit(1) })
	start := time.Now()
	var res string
	switch *kase {
	case "partial":
		res = partial(def(500))
	case "dribble":
		res = dribble()
	case "deep":
		res = deep(def(32000))
	case "wildcard":
		res = wildcard(def(200000))
	case "retained":
		res = retained(def(200000))
	case "queued":
		res = queued(def(400))
	default:
		fail("unknown case %q", *kase)
	}
	fmt.Printf("RESULT case=%s %s wall_ms=%d\n", *kase, res, time.Since(start).Milliseconds())
}

func def(d int) int {
	if *n > 0 {
		return *n
	}
	return d
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "hostile: "+f+"\n", a...)
	os.Exit(1)
}

// connect dials and completes CONNECT/CONNACK (3.1.1).
func connect(id string, clean bool) net.Conn {
	nc, err := net.DialTimeout("tcp", *addr, 5*time.Second)
	if err != nil {
		fail("dial: %v", err)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = nc.Write(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolVersion: codec.Version311,
		CleanStart: clean, KeepAlive: 0, ClientID: []byte(id)}))
	var ack [4]byte
	if _, err := io.ReadFull(nc, ack[:]); err != nil || ack[3] != 0 {
		fail("%s: CONNACK %v % x", id, err, ack)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc
}

func publishPrefix(topic string, size int, qos byte, pid uint16) []byte {
	b := []byte{0x30 | qos<<1}
	rem := 2 + len(topic) + size
	if qos > 0 {
		rem += 2
	}
	for {
		d := byte(rem % 128)
		rem /= 128
		if rem > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if rem == 0 {
			break
		}
	}
	b = append(b, byte(len(topic)>>8), byte(len(topic)))
	b = append(b, topic...)
	if qos > 0 {
		b = append(b, byte(pid>>8), byte(pid))
	}
	return b
}

// partial: c connected clients each send the header and half of a 1 MB
// PUBLISH, hold it, then close.
func partial(c int) string {
	const size = 1<<20 - 64
	half := make([]byte, size/2)
	conns := make([]net.Conn, c)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range c {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nc := connect(fmt.Sprint("partial-", i), true)
			conns[i] = nc
			_ = nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = nc.Write(publishPrefix(fmt.Sprint("partial/", i), size, 0, 0))
			_, _ = nc.Write(half) // may stop short where the broker stops reading
		}()
	}
	wg.Wait()
	time.Sleep(*hold)
	for _, nc := range conns {
		nc.Close()
	}
	return fmt.Sprintf("conns=%d packet_bytes=%d sent_each=%d", c, size, size/2)
}

// dribble: one client sends a 1 MB PUBLISH in 64-byte segments; the
// sender's own CPU is reported beside it.
func dribble() string {
	const size = 1<<20 - 64
	nc := connect("dribble", true)
	_ = nc.(*net.TCPConn).SetNoDelay(true)
	pkt := append(publishPrefix("dribble/t", size, 1, 1), make([]byte, size)...)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for i := 0; i < len(pkt); i += 64 {
		if _, err := nc.Write(pkt[i:min(i+64, len(pkt))]); err != nil {
			fail("dribble: %v", err)
		}
	}
	var ack [4]byte
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.ReadFull(nc, ack[:])
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	return fmt.Sprintf("segments=%d acked=%v sender_cpu_ms=%d", (len(pkt)+63)/64, err == nil, cpu.Milliseconds())
}

// deep: a retained message on a topic of depth one-byte levels, then its
// delete, timed by a PINGREQ fence each.
func deep(depth int) string {
	nc := connect("deep", true)
	topic := strings.TrimSuffix(strings.Repeat("a/", depth), "/")
	fence := func() (time.Duration, bool) {
		t := time.Now()
		_, _ = nc.Write([]byte{0xC0, 0})
		_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 64)
		for {
			k, err := nc.Read(buf)
			if err != nil {
				return time.Since(t), false
			}
			if bytes.Contains(buf[:k], []byte{0xD0, 0}) {
				return time.Since(t), true
			}
		}
	}
	_, _ = nc.Write(codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), Payload: []byte("x"), Retain: true}, codec.Version311))
	set, ok1 := fence()
	_, _ = nc.Write(codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), Retain: true}, codec.Version311))
	del, ok2 := fence()
	return fmt.Sprintf("levels=%d accepted=%v set_ms=%d delete_ms=%d", depth, ok1 && ok2, set.Milliseconds(), del.Milliseconds())
}

// wildcard: one client subscribes f overlapping filters that all match one
// topic; then 20 QoS 0 publishes to it are timed to the subscriber.
func wildcard(f int) string {
	sub := connect("wild-sub", true)
	go func() { _, _ = io.Copy(io.Discard, sub) }()
	granted := 0
	var b []byte
	pid := uint16(1)
	for i := 0; i < f; i++ {
		lv := make([]string, 18)
		for k := range lv {
			if i>>k&1 == 1 {
				lv[k] = "+"
			} else {
				lv[k] = fmt.Sprint("l", k)
			}
		}
		b = codec.AppendSubscribe(b, &codec.Subscribe{PacketID: pid, Subs: []codec.Subscription{{Filter: []byte("w/" + strings.Join(lv, "/") + "/#")}}}, codec.Version311)
		pid++
		if pid == 0 {
			pid = 1
		}
		if len(b) > 64<<10 {
			_, _ = sub.Write(b)
			b = b[:0]
		}
		granted++
	}
	_, _ = sub.Write(b)
	time.Sleep(2 * time.Second) // let the SUBSCRIBEs land
	pub := connect("wild-pub", true)
	t := time.Now()
	topic := "w/l0/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15/l16/l17/x"
	for range 20 {
		_, _ = pub.Write(codec.AppendPublish(nil, &codec.Publish{Topic: []byte(topic), Payload: []byte("m")}, codec.Version311))
	}
	_, _ = pub.Write([]byte{0xC0, 0})
	var resp [2]byte
	_ = pub.SetReadDeadline(time.Now().Add(50 * time.Second))
	_, err := io.ReadFull(pub, resp[:])
	return fmt.Sprintf("filters_sent=%d publish_ms_per_msg=%.1f fence_ok=%v", granted, float64(time.Since(t).Milliseconds())/20, err == nil)
}

// retained: m retained messages, then a # subscriber counts what it gets
// within 20 s.
func retained(m int) string {
	pub := connect("ret-pub", true)
	var b []byte
	payload := bytes.Repeat([]byte("r"), 64)
	for i := range m {
		b = codec.AppendPublish(b, &codec.Publish{Topic: []byte(fmt.Sprintf("ret/%d/%d", i/1000, i)), Payload: payload, Retain: true}, codec.Version311)
		if len(b) > 256<<10 {
			_, _ = pub.Write(b)
			b = b[:0]
		}
	}
	_, _ = pub.Write(append(b, 0xC0, 0))
	var resp [2]byte
	_ = pub.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, _ = io.ReadFull(pub, resp[:])
	sub := connect("ret-sub", true)
	_, _ = sub.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("ret/#")}}}, codec.Version311))
	got := 0
	var rbuf []byte
	buf := make([]byte, 256<<10)
	deadline := time.Now().Add(20 * time.Second)
	quiet := time.Now()
	for got < m && time.Now().Before(deadline) && time.Since(quiet) < 3*time.Second {
		_ = sub.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		k, err := sub.Read(buf)
		if k > 0 {
			quiet = time.Now()
		}
		rbuf = append(rbuf, buf[:k]...)
		for {
			h, err := codec.ParseFixedHeader(rbuf)
			if err != nil || len(rbuf) < h.HeaderLen+h.Remaining {
				break
			}
			if h.Type == codec.PUBLISH {
				got++
			}
			rbuf = rbuf[h.HeaderLen+h.Remaining:]
		}
		if err != nil && !os.IsTimeout(err) {
			break
		}
	}
	return fmt.Sprintf("retained=%d received=%d", m, got)
}

// queued: four persistent QoS 1 subscribers that never read; k QoS 1
// messages of 256 KB are published to them.
func queued(k int) string {
	subs := make([]net.Conn, 4)
	for i := range subs {
		subs[i] = connect(fmt.Sprint("queued-", i), false)
		_, _ = subs[i].Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("queued/t"), QoS: 1}}}, codec.Version311))
	}
	time.Sleep(200 * time.Millisecond)
	pub := connect("queued-pub", true)
	go func() { _, _ = io.Copy(io.Discard, pub) }()
	payload := make([]byte, 256<<10)
	for i := range k {
		pid := uint16(i%60000 + 1)
		_, err := pub.Write(append(publishPrefix("queued/t", len(payload), 1, pid), payload...))
		if err != nil {
			fail("queued: %v", err)
		}
	}
	time.Sleep(*hold)
	for i, s := range subs { // end the sessions: reconnect clean
		s.Close()
		connect(fmt.Sprint("queued-", i), true).Close()
	}
	return fmt.Sprintf("subscribers=4 messages=%d message_bytes=%d", k, len(payload))
}
