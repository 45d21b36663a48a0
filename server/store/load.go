package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Visitor receives what Load reads, in this order: retained messages,
// sessions, messages, references (each session's in sequence order),
// inbound QoS 2 ids. Everything passed is the visitor's to keep.
type Visitor struct {
	Retained func(m *Msg)
	Session  func(s *Session)
	Message  func(id uint64, m *Msg)
	Ref      func(session string, r *Ref)
	QoS2     func(session string, pid uint16)
}

// LoadStats is what a load found.
type LoadStats struct {
	Retained, Sessions, Messages, Refs, QoS2 int
	// Dropped counts records removed as unreachable: references of removed
	// sessions or to missing messages, messages no session references.
	Dropped  int
	Duration time.Duration
}

// Load reads the whole store into v and drops unreachable records. It runs
// before the broker serves, so it may take the time it needs. A record that
// does not decode is an error naming its key and the repair tool.
func (s *Store) Load(v Visitor) (LoadStats, error) {
	start := time.Now()
	var st LoadStats
	del := s.db.NewBatch()
	defer del.Close()
	maxSeq := uint64(0)
	bad := func(k []byte, err error) error {
		return fmt.Errorf("store: record %q in %s does not decode: %w; run `cp7 store check %s`, then `cp7 store repair %s` to drop it", k, s.opt.Dir, err, s.opt.Dir, s.opt.Dir)
	}
	scan := func(kind byte, fn func(k, v []byte) error) error {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
		if err != nil {
			return err
		}
		for it.First(); it.Valid(); it.Next() {
			val, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return openError(s.opt.Dir, err)
			}
			if err := fn(it.Key(), val); err != nil {
				it.Close()
				return err
			}
		}
		if err := it.Close(); err != nil {
			return openError(s.opt.Dir, err)
		}
		return nil
	}
	// Retained messages.
	err := scan(kindRetained, func(k, val []byte) error {
		m, err := DecodeMsg(val)
		if err != nil {
			return bad(k, err)
		}
		st.Retained++
		if v.Retained != nil {
			v.Retained(m)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	// Sessions.
	sessions := make(map[string]struct{})
	err = scan(kindSession, func(k, val []byte) error {
		id, _, ok := splitSessionKey(k)
		if !ok {
			return bad(k, ErrBadRecord)
		}
		ss, err := DecodeSession(id, val)
		if err != nil {
			return bad(k, err)
		}
		sessions[id] = struct{}{}
		st.Sessions++
		if v.Session != nil {
			v.Session(ss)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	// Count references per message, to load only referenced messages.
	refCount := make(map[uint64]int32)
	refScan := func(fn func(id string, ref *Ref, k []byte)) error {
		return scan(kindRef, func(k, val []byte) error {
			id, rest, ok := splitSessionKey(k)
			if !ok || len(rest) != 8 {
				return bad(k, ErrBadRecord)
			}
			ref, err := DecodeRef(binary.BigEndian.Uint64(rest), val)
			if err != nil {
				return bad(k, err)
			}
			maxSeq = max(maxSeq, ref.Seq)
			fn(id, ref, k)
			return nil
		})
	}
	err = refScan(func(id string, ref *Ref, k []byte) {
		if _, ok := sessions[id]; ok {
			refCount[ref.Msg]++
		}
	})
	if err != nil {
		return st, err
	}
	present := make(map[uint64]struct{}, len(refCount))
	err = scan(kindMessage, func(k, val []byte) error {
		if len(k) != 9 {
			return bad(k, ErrBadRecord)
		}
		id := binary.BigEndian.Uint64(k[1:])
		maxSeq = max(maxSeq, id)
		if refCount[id] == 0 {
			_ = del.Delete(k, nil)
			st.Dropped++
			return nil
		}
		m, err := DecodeMsg(val)
		if err != nil {
			return bad(k, err)
		}
		present[id] = struct{}{}
		st.Messages++
		if v.Message != nil {
			v.Message(id, m)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	err = refScan(func(id string, ref *Ref, k []byte) {
		_, okS := sessions[id]
		_, okM := present[ref.Msg]
		if !okS || !okM {
			_ = del.Delete(k, nil)
			st.Dropped++
			return
		}
		st.Refs++
		if v.Ref != nil {
			v.Ref(id, ref)
		}
	})
	if err != nil {
		return st, err
	}
	err = scan(kindQoS2, func(k, _ []byte) error {
		id, rest, ok := splitSessionKey(k)
		if !ok || len(rest) != 2 {
			return bad(k, ErrBadRecord)
		}
		if _, ok := sessions[id]; !ok {
			_ = del.Delete(k, nil)
			st.Dropped++
			return nil
		}
		st.QoS2++
		if v.QoS2 != nil {
			v.QoS2(id, binary.BigEndian.Uint16(rest))
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if !del.Empty() {
		if err := del.Commit(pebble.Sync); err != nil {
			return st, fmt.Errorf("store: cannot drop unreachable records in %s: %w", s.opt.Dir, err)
		}
	}
	s.seq.Store(maxSeq)
	st.Duration = time.Since(start)
	return st, nil
}

// DiskUsage is the size of the store's files in bytes.
func (s *Store) DiskUsage() uint64 { return s.db.Metrics().DiskSpaceUsage() }
