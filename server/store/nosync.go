package store

import (
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// noSyncWAL is the file system of -sync none: write-ahead log files skip
// fsync, everything else (tables, manifest) syncs as usual. Commits still
// wait for pebble to write(2) the log, so an acknowledged message is in the
// OS page cache: it survives the broker's crash or kill -9, not the
// machine's. (pebble.NoSync alone would not promise that: it leaves the
// record in pebble's own buffer for a background flush.)
type noSyncWAL struct{ vfs.FS }

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs noSyncWAL) wrap(f vfs.File, name string, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	return noSyncFile{f}, nil
}

func (fs noSyncWAL) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(f, name, err)
}

func (fs noSyncWAL) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(f, newname, err)
}

func (fs noSyncWAL) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(f, name, err)
}

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error                { return nil }
func (noSyncFile) SyncData() error            { return nil }
func (noSyncFile) SyncTo(int64) (bool, error) { return true, nil }
