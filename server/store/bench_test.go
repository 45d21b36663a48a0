package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/klauspost/compress/s2"
)

// BenchmarkCommit measures what one QoS 1 message to one persistent
// session costs the store: the message and its reference written, later
// both deleted (as the PUBACK does), committed with one fsync per
// group of `group` loop batches (group=1 is an fsync per message).
func BenchmarkCommit(b *testing.B) {
	for _, sync := range []Sync{SyncBatch, SyncNone} {
		for _, group := range []int{1, 16, 256} {
			name := fmt.Sprintf("sync=%s/group=%d", map[Sync]string{SyncBatch: "batch", SyncNone: "none"}[sync], group)
			b.Run(name, func(b *testing.B) { benchCommit(b, sync, group) })
		}
	}
}

func benchCommit(b *testing.B, sync Sync, group int) {
	s, err := Open(Options{Dir: b.TempDir(), Sync: sync, MinFree: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := bytes.Repeat([]byte("x"), 100)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	var wg syncWaitGroup
	for i := 0; i < b.N; i += group {
		n := min(group, b.N-i)
		wg.Add(n)
		for j := range n {
			id := uint64(i + j + 1)
			bt := s.NewBatch()
			bt.PutMsg(id, &Msg{Topic: []byte("bench/topic"), Payload: payload, QoS: 1})
			bt.PutRef("client-1", &Ref{Seq: id, Msg: id, QoS: 1})
			if id > 1000 {
				bt.DeleteMsg(id - 1000)
				bt.DeleteRef("client-1", id-1000)
			}
			s.Submit(bt, func(error) { wg.Done() })
		}
		wg.Wait()
	}
	b.ReportMetric(float64(s.Groups.Load())/float64(b.N), "groups/op")
}

type syncWaitGroup = sync.WaitGroup

// BenchmarkS2 measures s2 on typical IoT payloads: whether compressing
// stored payloads pays.
func BenchmarkS2(b *testing.B) {
	json := []byte(`{"device":"sensor-0042","ts":1733140000,"temperature":21.5,"humidity":40.2,"battery":87,"status":"ok","readings":[1,2,3,4,5,6,7,8]}`)
	for _, size := range []int{128, 1024, 16384} {
		p := bytes.Repeat(json, size/len(json)+1)[:size]
		b.Run(fmt.Sprintf("json-%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			var out []byte
			for range b.N {
				out = s2.Encode(out[:0], p)
			}
			b.ReportMetric(float64(len(out))/float64(size), "ratio")
		})
	}
}

// BenchmarkFsyncFloor is the floor any durable store pays on this disk: an
// append-only file with one fdatasync per group of the same records.
func BenchmarkFsyncFloor(b *testing.B) {
	for _, group := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			rec := AppendMsg(nil, &Msg{Topic: []byte("bench/topic"), Payload: bytes.Repeat([]byte("x"), 100), QoS: 1})
			var buf []byte
			for i := 0; i < b.N; i += group {
				buf = buf[:0]
				for range min(group, b.N-i) {
					buf = append(buf, rec...)
				}
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
