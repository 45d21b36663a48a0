package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// CheckReport is what Check found.
type CheckReport struct {
	Counts map[string]int // records per kind
	Bad    []string       // keys whose value does not decode
}

var kindNames = map[byte]string{kindRetained: "retained", kindMessage: "message", kindSession: "session", kindRef: "reference", kindQoS2: "qos2-id"}

// Check opens dir read-only and decodes every record. It returns an error
// when the store cannot be read at all (a damaged file); decoding failures
// are listed in the report.
func Check(dir string) (*CheckReport, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := pebble.Open(dir, pebbleOptions(true))
	if err != nil {
		return nil, openError(dir, err)
	}
	defer db.Close()
	return walk(db, nil)
}

// walk decodes every record of db; with del set, it deletes those that do
// not decode.
func walk(db *pebble.DB, del *pebble.Batch) (*CheckReport, error) {
	rep := &CheckReport{Counts: map[string]int{}}
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return rep, err
		}
		if derr := checkRecord(k, v); derr != nil {
			rep.Bad = append(rep.Bad, fmt.Sprintf("%q: %v", k, derr))
			if del != nil {
				_ = del.Delete(k, nil)
			}
			continue
		}
		rep.Counts[kindNames[k[0]]]++
	}
	return rep, it.Error()
}

func checkRecord(k, v []byte) error {
	if len(k) == 0 {
		return ErrBadRecord
	}
	switch k[0] {
	case kindRetained:
		_, err := DecodeMsg(v)
		return err
	case kindMessage:
		if len(k) != 9 {
			return ErrBadRecord
		}
		_, err := DecodeMsg(v)
		return err
	case kindSession:
		id, rest, ok := splitSessionKey(k)
		if !ok || len(rest) != 0 {
			return ErrBadRecord
		}
		_, err := DecodeSession(id, v)
		return err
	case kindRef:
		_, rest, ok := splitSessionKey(k)
		if !ok || len(rest) != 8 {
			return ErrBadRecord
		}
		_, err := DecodeRef(binary.BigEndian.Uint64(rest), v)
		return err
	case kindQoS2:
		_, rest, ok := splitSessionKey(k)
		if !ok || len(rest) != 2 {
			return ErrBadRecord
		}
		return nil
	}
	return errors.New("unknown key kind")
}

// Repair drops every record that does not decode. If the store cannot be
// opened at all, its directory is moved aside to dir.damaged-TIME (kept for
// inspection) so that the broker starts with an empty store; the message
// says so.
func Repair(dir string, out io.Writer) error {
	moveAside := func(err error) error {
		aside := fmt.Sprintf("%s.damaged-%s", dir, time.Now().UTC().Format("20060102T150405"))
		if rerr := os.Rename(dir, aside); rerr != nil {
			return fmt.Errorf("store: cannot read %s (%v) nor move it aside: %w", dir, err, rerr)
		}
		fmt.Fprintf(out, "store: %s cannot be read (%v): moved to %s for inspection; cp7 will start with an empty store in %s\n", dir, err, aside, dir)
		return nil
	}
	db, err := pebble.Open(dir, pebbleOptions(false))
	if err != nil {
		return moveAside(err)
	}
	del := db.NewBatch()
	rep, err := walk(db, del)
	if err != nil {
		_ = del.Close()
		_ = db.Close()
		if pebble.IsCorruptionError(err) {
			return moveAside(err)
		}
		return err
	}
	defer db.Close()
	defer del.Close()
	if err := del.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: dropping bad records in %s: %w", dir, err)
	}
	for _, b := range rep.Bad {
		fmt.Fprintf(out, "dropped %s\n", b)
	}
	fmt.Fprintf(out, "store: %s repaired: %d bad records dropped; kept %v\n", dir, len(rep.Bad), rep.Counts)
	return nil
}
