// Command storefill writes a CP7 store for the recovery benchmark
// (benchmarks/store.sh): retained messages, and persistent sessions each
// with one subscription and queued QoS 1 messages, as cp7 itself writes
// them (server/store), so `cp7 -data-dir DIR` recovers them at start.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/cp7/cp7/server/store"
)

func main() {
	dir := flag.String("dir", "", "store `DIR` to fill (created)")
	retained := flag.Int("retained", 0, "retained messages, one per topic fill/ret/N")
	sessions := flag.Int("sessions", 0, "persistent sessions fill-N subscribed to fill/s/N at QoS 1")
	queued := flag.Int("queued", 10, "queued QoS 1 messages per session, each stored once")
	size := flag.Int("s", 64, "payload bytes")
	flag.Parse()
	if *dir == "" {
		log.Fatal("storefill: -dir is required")
	}
	st, err := store.Open(store.Options{Dir: *dir, Sync: store.SyncNone, MinFree: 1})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	payload := bytes.Repeat([]byte("p"), *size)
	const per = 5000
	b := st.NewBatch()
	n := 0
	flush := func(force bool) {
		if n < per && !force {
			return
		}
		done := make(chan error, 1)
		st.Submit(b, func(err error) { done <- err })
		if err := <-done; err != nil {
			log.Fatal(err)
		}
		b, n = st.NewBatch(), 0
	}
	for i := range *retained {
		b.PutRetained(&store.Msg{Topic: fmt.Appendf(nil, "fill/ret/%d", i), Payload: payload, QoS: 1, Retain: true})
		n++
		flush(false)
	}
	for i := range *sessions {
		id := fmt.Sprintf("fill-%d", i)
		topic := fmt.Sprintf("fill/s/%d", i)
		b.PutSession(&store.Session{ID: id, Version: 4, Expiry: 0xFFFFFFFF, Subs: []store.Sub{{Filter: topic, QoS: 1}}})
		for range *queued {
			mid := st.NextSeq()
			b.PutMsg(mid, &store.Msg{Topic: []byte(topic), Payload: payload, QoS: 1})
			b.PutRef(id, &store.Ref{Seq: st.NextSeq(), Msg: mid, QoS: 1})
			n += 2
		}
		n++
		flush(false)
	}
	flush(true)
	if err := st.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("storefill: %d retained, %d sessions x %d queued into %s in %s\n", *retained, *sessions, *queued, *dir, time.Since(start).Round(time.Millisecond))
}
