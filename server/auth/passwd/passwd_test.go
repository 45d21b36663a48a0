package passwd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain makes new hashes cheap: the race detector slows argon2id and
// bcrypt twentyfold, and the costs do not change what is tested.
func TestMain(m *testing.M) {
	argonTime, argonMemory, bcryptCost = 1, 1024, 4
	os.Exit(m.Run())
}

// mosquittoPasswd returns the path of Debian's mosquitto_passwd, skipping
// outside CI when it is missing (scripts/install-deps.sh installs it).
func mosquittoPasswd(t *testing.T) string {
	p, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto_passwd missing in CI: run scripts/install-deps.sh")
		}
		t.Skip("mosquitto_passwd not installed")
	}
	return p
}

func TestVerifyEachKind(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{Argon2id, Bcrypt, PBKDF2SHA512, SCRAMSHA256} {
		h, err := Hash(k, []byte("s3cret"))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		e, err := ParseHash(h)
		if err != nil {
			t.Fatalf("%s: parse %q: %v", k, h, err)
		}
		if e.Kind != k {
			t.Fatalf("%q parsed as %s, want %s", h, e.Kind, k)
		}
		if !e.Verify([]byte("s3cret")) || e.Verify([]byte("s3cres")) || e.Verify(nil) {
			t.Fatalf("%s: right password must verify, wrong ones not", k)
		}
	}
}

// TestMosquittoMadeFile: entries written by mosquitto_passwd in both its
// formats ($7$ PBKDF2-SHA512, the default, and -H sha512's $6$) verify.
func TestMosquittoMadeFile(t *testing.T) {
	t.Parallel()
	mp := mosquittoPasswd(t)
	path := filepath.Join(t.TempDir(), "pw")
	run := func(args ...string) {
		if out, err := exec.Command(mp, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	run("-c", "-b", path, "alice", "wonderland")
	run("-H", "sha512", "-b", path, "bob", "builder")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if k := f.Lookup("alice").Kind; k != PBKDF2SHA512 {
		t.Fatalf("alice: %s, want $7$", k)
	}
	if k := f.Lookup("bob").Kind; k != SHA512 {
		t.Fatalf("bob: %s, want $6$", k)
	}
	if !f.Lookup("alice").Verify([]byte("wonderland")) || f.Lookup("alice").Verify([]byte("builder")) {
		t.Fatal("alice's $7$ entry does not verify")
	}
	if !f.Lookup("bob").Verify([]byte("builder")) || f.Lookup("bob").Verify([]byte("wonderland")) {
		t.Fatal("bob's $6$ entry does not verify")
	}

	// cp7 adds an argon2id entry; mosquitto_passwd then adds another user
	// and both tools' lines survive each other.
	h, _ := Hash(Argon2id, []byte("carrot"))
	if err := SetUser(path, "carol", h); err != nil {
		t.Fatal(err)
	}
	run("-b", path, "dave", "pw")
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if f.Len() != 4 || !f.Lookup("carol").Verify([]byte("carrot")) || !f.Lookup("dave").Verify([]byte("pw")) ||
		!f.Lookup("alice").Verify([]byte("wonderland")) {
		t.Fatalf("after both tools edited the file: %d users, or an entry does not verify", f.Len())
	}
}

func TestEditKeepsOtherLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pw")
	h1, _ := Hash(PBKDF2SHA512, []byte("a"))
	if err := SetUser(path, "alice", h1); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	orig := "# managed by hand\nalice:" + h1 + "\n\nzed:$6$c2FsdA==$" + strings.Repeat("A", 86) + "==\n"
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	h2, _ := Hash(Bcrypt, []byte("b"))
	if err := SetUser(path, "alice", h2); err != nil {
		t.Fatal(err)
	}
	if err := SetUser(path, "bob", h1); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# managed by hand\nalice:" + h2 + "\n\nzed:$6$c2FsdA==$" + strings.Repeat("A", 86) + "==\nbob:" + h1 + "\n"
	if string(got) != want {
		t.Fatalf("file after edits:\n%s\nwant:\n%s", got, want)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode changed to %v, want the file's own 0640", st.Mode().Perm())
	}
	if err := DeleteUser(path, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := DeleteUser(path, "alice"); err == nil {
		t.Fatal("deleting a missing user must fail")
	}
	got, _ = os.ReadFile(path)
	if strings.Contains(string(got), "alice:") || !strings.Contains(string(got), "# managed by hand\n") {
		t.Fatalf("after delete: %s", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"alice:wonderland\n",         // clear password
		"alice\n",                    // no colon
		"alice:$9$x$y\n",             // unknown format
		"alice:$7$0$c2FsdA==$AAAA\n", // iterations 0
		"alice:$scram-sha-256$4096$c2FsdA==$AAAA$AAAA\n", // short keys
	} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Fatalf("Parse(%q) accepted it", bad)
		}
	}
	h, _ := Hash(PBKDF2SHA512, []byte("x"))
	if _, err := Parse(strings.NewReader("a:" + h + "\na:" + h + "\n")); err == nil {
		t.Fatal("a user twice must be refused")
	}
}

// BenchmarkVerify is one slow check per kind, at the costs new entries get
// (TestMain lowers them for the tests; the benchmark restores them).
func BenchmarkVerify(b *testing.B) {
	argonTime, argonMemory, bcryptCost = 2, 19*1024, 10
	for _, k := range []Kind{PBKDF2SHA512, SCRAMSHA256, Bcrypt, Argon2id} {
		h, err := Hash(k, []byte("s3cret"))
		if err != nil {
			b.Fatal(err)
		}
		e, _ := ParseHash(h)
		b.Run(string(k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !e.Verify([]byte("s3cret")) {
					b.Fatal("no match")
				}
			}
		})
	}
}
