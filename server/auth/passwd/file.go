package passwd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// Table is a parsed password file: user name to entry. Read-only once made.
type Table map[string]*Entry

// Parse reads a password file: "user:hash" lines; blank lines and lines
// starting with '#' are skipped. A bad line fails the whole file, naming
// its number, so a reload never half-applies.
func Parse(r io.Reader) (Table, error) {
	t := make(Table)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("passwd: line %d is not user:hash", n)
		}
		e, err := ParseHash(hash)
		if err != nil {
			return nil, fmt.Errorf("line %d (user %q): %w", n, user, err)
		}
		if _, dup := t[user]; dup {
			return nil, fmt.Errorf("passwd: line %d: user %q appears twice: keep one line per user", n, user)
		}
		t[user] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("passwd: %w", err)
	}
	return t, nil
}

// File is a password file loaded in memory, reloadable while in use. Safe
// for concurrent use.
type File struct {
	path  string
	table atomic.Pointer[Table]
}

// Open loads the password file at path.
func Open(path string) (*File, error) {
	f := &File{path: path}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Reload reads the file again; on error the old table stays in use.
func (f *File) Reload() error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	defer fh.Close()
	t, err := Parse(fh)
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	f.table.Store(&t)
	return nil
}

// Lookup returns the user's entry, or nil.
func (f *File) Lookup(user string) *Entry { return (*f.table.Load())[user] }

// Len is the number of users.
func (f *File) Len() int { return len(*f.table.Load()) }

// Users returns the table now in use (read-only).
func (f *File) Users() Table { return *f.table.Load() }

// SetUser writes user's hash into the file at path, replacing the user's
// line or appending one, and creating the file (mode 0600) if needed.
// Every other line stays as it was. The file is replaced atomically (a
// temporary file in the same directory, then rename).
func SetUser(path, user, hash string) error {
	if user == "" || strings.ContainsAny(user, ":\n\r") {
		return fmt.Errorf("passwd: user name %q is empty or holds ':' or a line break", user)
	}
	return edit(path, user, user+":"+hash)
}

// DeleteUser removes user's line; it fails when the user is not there.
func DeleteUser(path, user string) error { return edit(path, user, "") }

func edit(path, user, newLine string) error {
	old, err := os.ReadFile(path)
	mode := fs.FileMode(0o600)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if newLine == "" {
			return fmt.Errorf("passwd: %s does not exist", path)
		}
	case err != nil:
		return fmt.Errorf("passwd: %w", err)
	default:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	var out bytes.Buffer
	found := false
	lines := strings.SplitAfter(string(old), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		u, _, ok := strings.Cut(strings.TrimRight(l, "\r\n"), ":")
		if ok && u == user && !strings.HasPrefix(l, "#") {
			if !found && newLine != "" {
				out.WriteString(newLine + "\n")
			}
			found = true
			continue
		}
		out.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			out.WriteString("\n")
		}
	}
	if !found {
		if newLine == "" {
			return fmt.Errorf("passwd: user %q is not in %s", user, path)
		}
		out.WriteString(newLine + "\n")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("passwd: %w", err)
	}
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("passwd: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("passwd: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	return nil
}
