package main

import (
	"net"
	"sync"
	"testing"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
)

// fakeBroker is just enough of an MQTT broker for end-to-end tests of the
// tool: CONNECT, SUBSCRIBE (one filter each), PUBLISH QoS 0/1 forwarded to
// every matching subscriber, PINGREQ, DISCONNECT. refuse, when set, is the
// CONNACK code every connection gets.
type fakeBroker struct {
	ln     net.Listener
	refuse byte

	mu    sync.Mutex
	subs  []*fakeSub
	conns int
	wg    sync.WaitGroup
}

type fakeSub struct {
	mu      sync.Mutex
	c       net.Conn
	filter  string
	qos     byte
	version byte
	nextID  uint16
}

func startFakeBroker(t *testing.T, refuse byte) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startFakeBrokerOn(t, ln, refuse)
}

// startFakeBrokerOn serves on ln (a TLS listener, say) until the test ends.
func startFakeBrokerOn(t *testing.T, ln net.Listener, refuse byte) *fakeBroker {
	t.Helper()
	b := &fakeBroker{ln: ln, refuse: refuse}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, s := range b.subs {
			s.c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *fakeBroker) port() string {
	_, p, _ := net.SplitHostPort(b.ln.Addr().String())
	return p
}

func (b *fakeBroker) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns++
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(c)
	}
}

func (b *fakeBroker) serve(c net.Conn) {
	defer b.wg.Done()
	defer c.Close()
	fr := newFrameReader(c, 4096)
	var version byte
	var out []byte
	var me *fakeSub
	for {
		h, body, err := fr.read()
		if err != nil {
			return
		}
		out = out[:0]
		switch h.typ {
		case byte(codec.CONNECT):
			var p codec.Connect
			if p.Decode(body) != nil {
				return
			}
			version = p.ProtocolVersion
			out = codec.AppendConnack(out, &codec.Connack{ReasonCode: codec.ReasonCode(b.refuse)}, version)
			if b.refuse != 0 {
				c.Write(out)
				return
			}
		case byte(codec.SUBSCRIBE):
			var p codec.Subscribe
			if p.Decode(body, version) != nil || len(p.Subs) != 1 {
				return
			}
			me = &fakeSub{c: c, filter: string(p.Subs[0].Filter), qos: p.Subs[0].QoS, version: version}
			b.mu.Lock()
			b.subs = append(b.subs, me)
			b.mu.Unlock()
			out = codec.AppendSuback(out, &codec.Suback{PacketID: p.PacketID, ReasonCodes: []codec.ReasonCode{codec.ReasonCode(p.Subs[0].QoS)}}, version)
		case byte(codec.PUBLISH):
			var p codec.Publish
			if p.Decode(h.flags, body, version) != nil {
				return
			}
			b.forward(&p)
			if p.QoS == 1 {
				out = codec.AppendAck(out, &codec.Ack{Type: codec.PUBACK, PacketID: p.PacketID}, version)
			}
		case byte(codec.PINGREQ):
			out = codec.AppendPingresp(out)
		case byte(codec.DISCONNECT):
			return
		}
		if len(out) > 0 {
			if me != nil {
				me.mu.Lock()
			}
			_, err := c.Write(out)
			if me != nil {
				me.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}
}

func (b *fakeBroker) forward(p *codec.Publish) {
	b.mu.Lock()
	subs := b.subs
	b.mu.Unlock()
	for _, s := range subs {
		if !router.TopicMatches(s.filter, string(p.Topic)) {
			continue
		}
		q := codec.Publish{QoS: min(p.QoS, s.qos), Topic: p.Topic, Payload: p.Payload}
		s.mu.Lock()
		if q.QoS > 0 {
			if s.nextID++; s.nextID == 0 {
				s.nextID = 1
			}
			q.PacketID = s.nextID
		}
		s.c.Write(codec.AppendPublish(nil, &q, s.version))
		s.mu.Unlock()
	}
}
