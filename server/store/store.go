// Package store is CP7's embedded, crash-safe store of retained messages and
// persistent sessions, on pebble (an LSM tree: a queue's write-then-delete
// pattern becomes cheap tombstones instead of page rewrites).
//
// The event loops never wait on the disk. Each loop collects its turn's
// writes in a Batch and hands it to Submit; one writer goroutine commits
// every batch waiting at that moment as one group (one fsync with SyncBatch)
// and then calls each batch's done function, which posts the loop its
// completion. Acknowledgements that promise durability are sent from there.
package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// Sync says what a commit promises.
type Sync uint8

const (
	// SyncBatch fsyncs the write-ahead log once per group commit before any
	// acknowledgement of the group is sent: an acknowledged message survives
	// a power cut.
	SyncBatch Sync = iota
	// SyncNone writes the group to the log (write(2), into the OS page
	// cache) without fsync before acknowledging: an acknowledged message
	// survives the broker's crash or kill -9, not the machine's.
	SyncNone
)

// Options configure Open.
type Options struct {
	Dir  string
	Sync Sync
	// MinFree is the free space (bytes) below which new durable work is
	// refused (QuotaExceeded) until space returns; commits themselves stop at
	// a quarter of it, so pebble never meets ENOSPC, which it treats as fatal.
	MinFree uint64
	Log     *slog.Logger
}

// DefaultMinFree is Options.MinFree's default: room for pebble's memtable
// flushes and compactions.
const DefaultMinFree = 64 << 20

// ErrNoSpace is the error of a group refused because the disk is (nearly)
// full.
var ErrNoSpace = errors.New("store: disk nearly full")

// Store is an open store.
type Store struct {
	db  *pebble.DB
	opt Options
	log *slog.Logger

	seq atomic.Uint64 // last message id / reference sequence handed out

	mu       sync.Mutex
	queue    []submission
	spare    []submission
	closed   bool
	wake     chan struct{}
	done     chan struct{}
	refusing atomic.Bool // free space below MinFree: refuse new durable work
	failed   atomic.Bool // the last group failed
	lastFree atomic.Uint64
	minFree  atomic.Uint64 // Options.MinFree; SetMinFree changes it

	// Counters for logs and benchmarks.
	Groups, Batches atomic.Uint64
}

type submission struct {
	b    *Batch
	done func(error)
}

// Open opens (or creates) the store in opt.Dir. A corrupted store is an
// error that names the directory and the tools to use.
func Open(opt Options) (*Store, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.MinFree == 0 {
		opt.MinFree = DefaultMinFree
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: cannot create data directory %s: %w (use -data-dir to pick another, or -store memory)", opt.Dir, err)
	}
	po := pebbleOptions(false)
	if opt.Sync == SyncNone {
		po.FS = noSyncWAL{vfs.Default}
	}
	db, err := pebble.Open(opt.Dir, po)
	if err != nil {
		return nil, openError(opt.Dir, err)
	}
	s := &Store{db: db, opt: opt, log: opt.Log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.minFree.Store(opt.MinFree)
	s.checkSpace()
	go s.writer()
	return s, nil
}

func pebbleOptions(readOnly bool) *pebble.Options {
	return &pebble.Options{ReadOnly: readOnly, Logger: quietLogger{}, EventListener: &pebble.EventListener{
		// A damaged file is reported by the read that met it (an error
		// naming the file), not by ending the process as pebble's default
		// does.
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			slog.Error("store: on-disk corruption: run `cp7 store check DIR` and `cp7 store repair DIR` with the broker stopped", "file", info.Path)
		},
	}}
}

func openError(dir string, err error) error {
	if pebble.IsCorruptionError(err) || errors.Is(err, pebble.ErrCorruption) {
		return fmt.Errorf("store: the store in %s is corrupted: %w; run `cp7 store check %s` to see what is damaged, then `cp7 store repair %s` to keep what can be read (or move the directory away to start empty)", dir, err, dir, dir)
	}
	return fmt.Errorf("store: cannot open the store in %s: %w (another cp7 using it? use -data-dir to pick another, or -store memory)", dir, err)
}

// quietLogger keeps pebble's informational chatter out of the broker's log;
// its fatal errors still end the process, as pebble requires.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	slog.Error("store: pebble: " + fmt.Sprintf(format, args...))
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "store: pebble fatal: "+format+"\n", args...)
	os.Exit(1)
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.opt.Dir }

// NextSeq hands out a new message id or reference sequence number. Safe
// from any goroutine.
func (s *Store) NextSeq() uint64 { return s.seq.Add(1) }

// Accepting reports whether new durable work (a message for a persistent
// session, a retained message, a new persistent session) may be taken on.
// It turns false when free space falls below MinFree or a commit failed,
// and true again when space returns (checked at least once a second).
func (s *Store) Accepting() bool { return !s.refusing.Load() && !s.failed.Load() }

// Submit hands b to the writer; done(err) is called from the writer
// goroutine once b is committed (err nil) or refused. b must not be used
// after. Safe from any goroutine.
func (s *Store) Submit(b *Batch, done func(error)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		b.release()
		done(errors.New("store: closed"))
		return
	}
	s.queue = append(s.queue, submission{b, done})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// writer commits everything submitted since its last commit as one group.
func (s *Store) writer() {
	defer close(s.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	wopt := pebble.Sync // with SyncNone, the log's fsync is a no-op (noSyncWAL)
	group := s.db.NewBatch()
	for {
		select {
		case <-s.wake:
		case <-tick.C:
			s.checkSpace()
			if s.failed.Load() && !s.refusing.Load() {
				// Nothing may come to clear it: probe with an empty commit.
				b := s.NewBatch()
				_ = b.b.LogData([]byte("probe"), nil)
				s.commit(group, []submission{{b, func(error) {}}}, wopt)
				group.Reset()
			}
			continue
		}
		s.mu.Lock()
		subs := s.queue
		if len(subs) > 0 {
			s.queue, s.spare = s.spare[:0], nil // spare's array comes back after the commit
		}
		closed := s.closed
		s.mu.Unlock()
		if len(subs) > 0 {
			s.commit(group, subs, wopt)
			group.Reset()
			clear(subs)
			s.mu.Lock()
			s.spare = subs[:0]
			s.mu.Unlock()
		}
		if closed {
			s.mu.Lock()
			n := len(s.queue)
			s.mu.Unlock()
			if n == 0 {
				_ = group.Close()
				return
			}
		}
	}
}

func (s *Store) commit(group *pebble.Batch, subs []submission, wopt *pebble.WriteOptions) {
	var err error
	if free, min := s.checkSpace(), s.minFree.Load(); free < min/4 {
		err = fmt.Errorf("%w: %d bytes free in %s, under a quarter of the %d kept free", ErrNoSpace, free, s.opt.Dir, min)
	}
	if err == nil {
		for _, sub := range subs {
			if err = group.Apply(sub.b.b, nil); err != nil {
				break
			}
		}
	}
	if err == nil && !group.Empty() {
		err = group.Commit(wopt)
	}
	s.Groups.Add(1)
	s.Batches.Add(uint64(len(subs)))
	if err != nil {
		if !s.failed.Swap(true) {
			s.log.Error("store: a commit failed: refusing new durable work (QoS 1/2 for persistent sessions, retained messages, new persistent sessions) until it succeeds; clean sessions are served as before", "dir", s.opt.Dir, "error", err)
		}
	} else if s.failed.Swap(false) {
		s.log.Warn("store: commits succeed again: accepting durable work", "dir", s.opt.Dir)
	}
	for _, sub := range subs {
		sub.b.release()
		sub.done(err)
	}
}

// checkSpace reads the free space of the store's file system and updates
// Accepting. Writer goroutine (and Open) only.
func (s *Store) checkSpace() uint64 {
	var st unix.Statfs_t
	if err := unix.Statfs(s.opt.Dir, &st); err != nil {
		return ^uint64(0)
	}
	free := st.Bavail * uint64(st.Bsize)
	s.lastFree.Store(free)
	min := s.minFree.Load()
	low := free < min
	if low != s.refusing.Load() {
		s.refusing.Store(low)
		if low {
			s.log.Error("store: disk nearly full: refusing new durable work (QoS 1/2 for persistent sessions, retained messages, new persistent sessions) until space returns; clean sessions are served as before",
				"dir", s.opt.Dir, "free_bytes", free, "min_free_bytes", min)
		} else {
			s.log.Warn("store: disk space is back: accepting durable work", "dir", s.opt.Dir, "free_bytes", free)
		}
	}
	return free
}

// Close commits what was submitted and closes the store.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
	return s.db.Close()
}

// Batch is one loop's writes of one turn. Owner loop only until Submit.
type Batch struct {
	b   *pebble.Batch
	key []byte
	val []byte
}

var batchPool = sync.Pool{New: func() any { return new(Batch) }}

// NewBatch returns an empty batch.
func (s *Store) NewBatch() *Batch {
	b := batchPool.Get().(*Batch)
	b.b = s.db.NewBatch()
	return b
}

func (b *Batch) release() {
	_ = b.b.Close()
	b.b = nil
	if cap(b.val) > 64<<10 {
		b.val = nil
	}
	batchPool.Put(b)
}

// Empty reports whether nothing was written.
func (b *Batch) Empty() bool { return b.b.Empty() }

func (b *Batch) set(k, v []byte) { _ = b.b.Set(k, v, nil) }

// PutMsg stores a message once under its id.
func (b *Batch) PutMsg(id uint64, m *Msg) {
	b.key = msgKey(b.key[:0], id)
	b.val = AppendMsg(b.val[:0], m)
	b.set(b.key, b.val)
}

// DeleteMsg drops a message no session references any more.
func (b *Batch) DeleteMsg(id uint64) {
	b.key = msgKey(b.key[:0], id)
	_ = b.b.Delete(b.key, nil)
}

// PutRetained stores the retained message of a topic.
func (b *Batch) PutRetained(m *Msg) {
	b.key = append(append(b.key[:0], kindRetained), m.Topic...)
	b.val = AppendMsg(b.val[:0], m)
	b.set(b.key, b.val)
}

// DeleteRetained drops a topic's retained message.
func (b *Batch) DeleteRetained(topic []byte) {
	b.key = append(append(b.key[:0], kindRetained), topic...)
	_ = b.b.Delete(b.key, nil)
}

// PutSession writes a session's record.
func (b *Batch) PutSession(s *Session) {
	b.key = sessionPrefix(b.key[:0], kindSession, s.ID)
	b.val = AppendSession(b.val[:0], s)
	b.set(b.key, b.val)
}

// DeleteSession drops a session's record, its references and its inbound
// QoS 2 ids. (Messages it alone referenced are dropped by the caller, or at
// the next start.)
func (b *Batch) DeleteSession(id string) {
	for _, kind := range [...]byte{kindSession, kindRef, kindQoS2} {
		p := sessionPrefix(nil, kind, id)
		if kind == kindSession {
			_ = b.b.Delete(p, nil)
			continue
		}
		_ = b.b.DeleteRange(p, prefixEnd(p), nil)
	}
}

// PutRef writes a session's reference to a message.
func (b *Batch) PutRef(id string, r *Ref) {
	b.key = refKey(b.key[:0], id, r.Seq)
	b.val = AppendRef(b.val[:0], r)
	b.set(b.key, b.val)
}

// DeleteRef drops a session's reference.
func (b *Batch) DeleteRef(id string, seq uint64) {
	b.key = refKey(b.key[:0], id, seq)
	_ = b.b.Delete(b.key, nil)
}

// PutQoS2 records an inbound QoS 2 packet id awaiting PUBREL.
func (b *Batch) PutQoS2(id string, pid uint16) {
	b.key = qos2Key(b.key[:0], id, pid)
	b.set(b.key, nil)
}

// DeleteQoS2 drops an inbound QoS 2 id after PUBREL.
func (b *Batch) DeleteQoS2(id string, pid uint16) {
	b.key = qos2Key(b.key[:0], id, pid)
	_ = b.b.Delete(b.key, nil)
}

// SetMinFree changes Options.MinFree (tests; an operator's reload). It
// takes effect at the next check, within a second.
func (s *Store) SetMinFree(n uint64) { s.minFree.Store(n) }
