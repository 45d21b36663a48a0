package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/router"
)

func TestBusMessageRoundTrip(t *testing.T) {
	now := time.Unix(1000, 0)
	props := &codec.Properties{ContentType: []byte("text/plain"), User: []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}}
	props.Set(codec.PropContentType)
	cases := []Message{
		{Topic: []byte("a/b"), Payload: []byte("x"), QoS: 0},
		{Topic: []byte("$SYS/x"), Payload: nil, QoS: 2, Retain: true},
		{Topic: []byte("t"), Payload: []byte("with props"), QoS: 1, Props: props, Expiry: now.Add(90 * time.Second)},
	}
	var batch []byte
	for i := range cases {
		batch = appendBusFrame(batch, &cases[i], now)
	}
	rest := batch
	for i := range cases {
		msg, next, ok := NextBusFrame(rest)
		if !ok {
			t.Fatalf("frame %d: not found", i)
		}
		rest = next
		SetBusOrigin(msg, 7, uint64(i+1))
		if node, seq, _ := BusOrigin(msg); node != 7 || seq != uint64(i+1) {
			t.Errorf("frame %d: origin %d seq %d", i, node, seq)
		}
		if topic, _ := BusTopic(msg); !bytes.Equal(topic, cases[i].Topic) {
			t.Errorf("frame %d: BusTopic %q, want %q", i, topic, cases[i].Topic)
		}
		m, err := decodeBusMessage(msg, now)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		want := &cases[i]
		if !bytes.Equal(m.Topic, want.Topic) || !bytes.Equal(m.Payload, want.Payload) || m.QoS != want.QoS || m.Retain != want.Retain || !m.remote || !m.owned {
			t.Errorf("frame %d: got %+v, want %+v", i, m, want)
		}
		if !m.Expiry.Equal(want.Expiry) {
			t.Errorf("frame %d: expiry %v, want %v", i, m.Expiry, want.Expiry)
		}
		if (m.Props == nil) != (want.Props == nil) || m.Props != nil && (string(m.Props.ContentType) != "text/plain" || len(m.Props.User) != 1 || string(m.Props.User[0].Value) != "v") {
			t.Errorf("frame %d: properties %+v", i, m.Props)
		}
	}
	if _, _, ok := NextBusFrame(rest); ok {
		t.Error("a frame past the last one")
	}
	for _, bad := range [][]byte{nil, {busVersion}, append([]byte{9}, make([]byte, 30)...)} {
		if _, err := decodeBusMessage(bad, now); err == nil {
			t.Errorf("decodeBusMessage(%v) accepted", bad)
		}
	}
}

func TestSessionCodecRoundTrip(t *testing.T) {
	now := time.Unix(1000, 0)
	s := &session{id: "c", expiry: 3600}
	s.subs = map[string]router.Sub{
		"a/+":          {Filter: "a/+", QoS: 1, NoLocal: true, RetainHandling: 2, ID: 5},
		"$share/g/b/#": {Filter: "$share/g/b/#", QoS: 2, RetainAsPublished: true},
	}
	m := (&Message{Topic: []byte("a/x"), Payload: []byte("p"), QoS: 2}).own()
	s.st = &sessionState{
		inflight: []*outbound{{m: m, qos: 2, pid: 7, state: outWaitComp, opt: deliverOpts{qos: 2, subIDs: []uint32{5}}}},
		queue:    []*outbound{{m: m, qos: 1, opt: deliverOpts{qos: 1, group: "g", filter: "b/#", retain: true}}},
		qos2in:   []uint16{3, 4},
	}
	b := appendSession(nil, s, now)
	snap, err := decodeSession(b, now)
	if err != nil {
		t.Fatal(err)
	}
	if snap.expiry != 3600 || len(snap.subs) != 2 || len(snap.out) != 2 || len(snap.qos2in) != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	for _, sub := range snap.subs {
		if want := s.subs[sub.Filter]; sub != want {
			t.Errorf("subscription %+v, want %+v", sub, want)
		}
	}
	in, q := snap.out[0], snap.out[1]
	if in.pid != 7 || in.state != outWaitComp || in.qos != 2 || len(in.opt.subIDs) != 1 || string(in.m.Payload) != "p" || in.m.remote {
		t.Errorf("in-flight %+v", in)
	}
	if q.state != outQueued || q.opt.group != "g" || q.opt.filter != "b/#" || !q.opt.retain {
		t.Errorf("queued %+v", q)
	}
	for n := range len(b) {
		if _, err := decodeSession(b[:n], now); err == nil {
			t.Fatalf("decodeSession accepted %d of %d bytes", n, len(b))
		}
	}
}
