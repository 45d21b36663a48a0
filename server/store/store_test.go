package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

func TestMsgRoundTrip(t *testing.T) {
	for _, m := range []*Msg{
		{Topic: []byte("a/b"), Payload: []byte("hello"), QoS: 1},
		{Topic: []byte("t"), Payload: nil, QoS: 2, Retain: true, Expiry: 1700000000123, Props: []byte{3, 1, 1, 0}},
		{Topic: []byte("x"), Payload: bytes.Repeat([]byte{0xff}, 70000)},
	} {
		b := AppendMsg(nil, m)
		got, err := DecodeMsg(b)
		require.NoError(t, err)
		require.Equal(t, m.Topic, got.Topic)
		require.Equal(t, len(m.Payload), len(got.Payload))
		require.True(t, bytes.Equal(m.Payload, got.Payload))
		require.Equal(t, m.Props, got.Props)
		require.Equal(t, m.QoS, got.QoS)
		require.Equal(t, m.Retain, got.Retain)
		require.Equal(t, m.Expiry, got.Expiry)
		b[len(b)-1] ^= 0xff // the copy does not alias the input
		require.True(t, len(got.Payload) == 0 || got.Payload[len(got.Payload)-1] == m.Payload[len(m.Payload)-1])
	}
}

func TestSessionRoundTrip(t *testing.T) {
	s := &Session{ID: "dev-1", Version: 5, Expiry: 3600, ExpireAt: 1700000000,
		Subs: []Sub{{Filter: "a/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 77}, {Filter: "$share/g/b", QoS: 1}},
		Will: &Msg{Topic: []byte("will"), Payload: []byte("gone"), QoS: 1}, WillAt: 1700000100}
	got, err := DecodeSession("dev-1", AppendSession(nil, s))
	require.NoError(t, err)
	require.Equal(t, s.Subs, got.Subs)
	require.Equal(t, s.Expiry, got.Expiry)
	require.Equal(t, s.ExpireAt, got.ExpireAt)
	require.Equal(t, s.WillAt, got.WillAt)
	require.Equal(t, "gone", string(got.Will.Payload))
	plain := &Session{ID: "p", Expiry: 0xFFFFFFFF}
	got, err = DecodeSession("p", AppendSession(nil, plain))
	require.NoError(t, err)
	require.Nil(t, got.Will)
	require.Empty(t, got.Subs)
}

func TestRefRoundTrip(t *testing.T) {
	r := &Ref{Seq: 9, Msg: 7, QoS: 2, Retain: true, State: RefReceived, PID: 513, SubIDs: []uint32{1, 300000}, Group: "g", Filter: "a/+"}
	got, err := DecodeRef(9, AppendRef(nil, r))
	require.NoError(t, err)
	require.Equal(t, r, got)
}

func TestDecodeRejectsTruncated(t *testing.T) {
	full := AppendSession(nil, &Session{ID: "x", Expiry: 5, Subs: []Sub{{Filter: "abc", QoS: 1}}})
	for i := 0; i < len(full)-1; i++ {
		_, err := DecodeSession("x", full[:i])
		require.Error(t, err, "prefix of %d bytes", i)
	}
	ref := AppendRef(nil, &Ref{QoS: 1, Msg: 1})
	for i := 0; i < len(ref)-2; i++ {
		_, err := DecodeRef(1, ref[:i])
		require.Error(t, err, "prefix of %d bytes", i)
	}
	_, err := DecodeMsg([]byte{9, 0, 0})
	require.ErrorContains(t, err, "newer cp7")
}

func commitSync(t *testing.T, s *Store, fill func(b *Batch)) {
	t.Helper()
	b := s.NewBatch()
	fill(b)
	done := make(chan error, 1)
	s.Submit(b, func(err error) { done <- err })
	require.NoError(t, <-done)
}

// TestLoadDropsUnreachable checks recovery's bookkeeping: references of
// removed sessions or to missing messages, and messages nobody references,
// are dropped; the rest comes back in order, and sequence numbers go on
// after the largest stored.
func TestLoadDropsUnreachable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MinFree: 1})
	require.NoError(t, err)
	commitSync(t, s, func(b *Batch) {
		b.PutRetained(&Msg{Topic: []byte("r/1"), Payload: []byte("kept"), Retain: true})
		b.PutSession(&Session{ID: "live", Expiry: 60, Subs: []Sub{{Filter: "a", QoS: 1}}})
		b.PutMsg(10, &Msg{Topic: []byte("a"), Payload: []byte("m10"), QoS: 1})
		b.PutMsg(11, &Msg{Topic: []byte("a"), Payload: []byte("orphan"), QoS: 1})
		b.PutRef("live", &Ref{Seq: 21, Msg: 10, QoS: 1})
		b.PutRef("live", &Ref{Seq: 20, Msg: 10, QoS: 1})
		b.PutRef("live", &Ref{Seq: 22, Msg: 99, QoS: 1}) // message missing
		b.PutRef("gone", &Ref{Seq: 23, Msg: 10, QoS: 1}) // session missing
		b.PutQoS2("live", 7)
		b.PutQoS2("gone", 8)
	})
	require.NoError(t, s.Close())

	s, err = Open(Options{Dir: dir, MinFree: 1})
	require.NoError(t, err)
	var refs []uint64
	var msgs []string
	st, err := s.Load(Visitor{
		Message: func(id uint64, m *Msg) { msgs = append(msgs, string(m.Payload)) },
		Ref:     func(id string, r *Ref) { refs = append(refs, r.Seq) },
	})
	require.NoError(t, err)
	require.Equal(t, []uint64{20, 21}, refs)
	require.Equal(t, []string{"m10"}, msgs)
	require.Equal(t, LoadStats{Retained: 1, Sessions: 1, Messages: 1, Refs: 2, QoS2: 1, Dropped: 4, Duration: st.Duration}, st)
	require.Greater(t, s.NextSeq(), uint64(23))
	require.NoError(t, s.Close())

	rep, err := Check(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"retained": 1, "session": 1, "message": 1, "reference": 2, "qos2-id": 1}, rep.Counts)
}

// TestBadRecordStopsLoadAndRepairDropsIt: a record that does not decode
// stops recovery with a message naming the directory and the tools; check
// lists it and repair drops it.
func TestBadRecordStopsLoadAndRepairDropsIt(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MinFree: 1})
	require.NoError(t, err)
	commitSync(t, s, func(b *Batch) {
		b.PutSession(&Session{ID: "ok", Expiry: 60})
		_ = b.b.Set(sessionPrefix(nil, kindSession, "bad"), []byte{1, 5, 0xff}, nil)
	})
	_, err = s.Load(Visitor{})
	require.ErrorContains(t, err, dir)
	require.ErrorContains(t, err, "cp7 store repair")
	require.NoError(t, s.Close())

	rep, err := Check(dir)
	require.NoError(t, err)
	require.Len(t, rep.Bad, 1)
	var out strings.Builder
	require.NoError(t, Repair(dir, &out))
	require.Contains(t, out.String(), "1 bad records dropped")
	rep, err = Check(dir)
	require.NoError(t, err)
	require.Empty(t, rep.Bad)
	require.Equal(t, 1, rep.Counts["session"])
}

// TestCorruptFileNamesItAndTheTools damages a table file: Open (or Load)
// fails naming the directory and `cp7 store check`/`repair`; repair moves
// an unreadable store aside so start-up can go on.
func TestCorruptFileNamesItAndTheTools(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MinFree: 1})
	require.NoError(t, err)
	commitSync(t, s, func(b *Batch) {
		for i := range 200 {
			b.PutMsg(uint64(i+1), &Msg{Topic: []byte("t"), Payload: bytes.Repeat([]byte{byte(i)}, 100)})
		}
	})
	require.NoError(t, s.db.Flush())
	require.NoError(t, s.Close())
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	require.NotEmpty(t, ssts)
	b, err := os.ReadFile(ssts[0])
	require.NoError(t, err)
	for i := 100; i < len(b)-100 && i < 2000; i++ {
		b[i] ^= 0x5a
	}
	require.NoError(t, os.WriteFile(ssts[0], b, 0o644))

	_, cerr := Check(dir)
	s, oerr := Open(Options{Dir: dir, MinFree: 1})
	if oerr == nil {
		_, oerr = s.Load(Visitor{})
		_ = s.Close()
	}
	require.Error(t, oerr)
	require.Error(t, cerr)
	require.ErrorContains(t, oerr, dir)
	require.ErrorContains(t, oerr, "cp7 store")
	t.Log(oerr)

	var out strings.Builder
	require.NoError(t, Repair(dir, &out))
	require.Contains(t, out.String(), "moved to "+dir+".damaged-")
	aside, _ := filepath.Glob(dir + ".damaged-*")
	require.Len(t, aside, 1)
	t.Cleanup(func() { _ = os.RemoveAll(aside[0]) })
	s, err = Open(Options{Dir: dir, MinFree: 1})
	require.NoError(t, err)
	_, err = s.Load(Visitor{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

var _ = pebble.Sync
