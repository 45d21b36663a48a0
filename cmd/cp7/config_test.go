package main

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func noEnv(string) string { return "" }

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cp7.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func TestConfigFileSetsTheConfig(t *testing.T) {
	p := writeConfig(t, `# a comment
listen: 127.0.0.1:2883
max-inflight: 64
connect-timeout: 3s
ws-listen:            # empty: the WebSocket listener is off
proxy-protocol: true
proxy-trusted: [10.0.0.0/8, 127.0.0.1]
shared-strategy: hash-topic
`)
	o, err := parseFlagsEnv([]string{"-config", p}, noEnv)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2883", o.cfg.Listen)
	require.Equal(t, 64, o.cfg.MaxInflight)
	require.Equal(t, 3*time.Second, o.cfg.ConnectTimeout)
	require.Equal(t, "", o.lst.wsListen)
	require.True(t, o.cfg.ProxyProtocol)
	require.Equal(t, "10.0.0.0/8,127.0.0.1", o.lst.proxyTrusted)
	require.Equal(t, fromFile, o.set["max-inflight"])
	require.Equal(t, source(""), o.set["max-queued"], "a key the file leaves out keeps its default")
	require.Equal(t, 1000, o.cfg.MaxQueued)
}

// TestConfigPrecedence: default < file < CP7_* environment < command line.
func TestConfigPrecedence(t *testing.T) {
	p := writeConfig(t, "max-inflight: 10\nmax-queued: 20\nmax-packet-size: 4096\n")
	env := map[string]string{"CP7_MAX_QUEUED": "30", "CP7_MAX_PACKET_SIZE": "8192", "CP7_CONNECT_TIMEOUT": "7s"}
	o, err := parseFlagsEnv([]string{"-config", p, "-max-packet-size", "16384"}, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, 10, o.cfg.MaxInflight, "file over default")
	require.Equal(t, 30, o.cfg.MaxQueued, "environment over file")
	require.Equal(t, 16384, o.cfg.MaxPacketSize, "flag over environment and file")
	require.Equal(t, 7*time.Second, o.cfg.ConnectTimeout, "environment over default")
	require.Equal(t, map[string]source{"config": fromFlag, "max-packet-size": fromFlag, "max-queued": fromEnv,
		"connect-timeout": fromEnv, "max-inflight": fromFile}, o.set)

	// The config file itself may come from the environment.
	o, err = parseFlagsEnv(nil, func(k string) string {
		if k == "CP7_CONFIG" {
			return p
		}
		return ""
	})
	require.NoError(t, err)
	require.Equal(t, 10, o.cfg.MaxInflight)

	_, err = parseFlagsEnv(nil, func(k string) string {
		if k == "CP7_MAX_INFLIGHT" {
			return "many"
		}
		return ""
	})
	require.ErrorContains(t, err, "CP7_MAX_INFLIGHT")
	require.ErrorContains(t, err, "deliveries per session")
}

// TestConfigErrorsNameKeyAndLine: every bad file is refused before anything
// listens, with the file, the line, the key and what the key takes.
func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"unknown key", "listen: :1883\n\nmax-infligth: 3\n", []string{":3: max-infligth: unknown key", `did you mean "max-inflight"`}},
		{"bad value", "max-inflight: lots\n", []string{":1: max-inflight: invalid value \"lots\"", "deliveries per session"}},
		{"bad bool", "listen: :1\nproxy-protocol: maybe\n", []string{":2: proxy-protocol: invalid value", "true or false"}},
		{"bad duration", "connect-timeout: 10 seconds\n", []string{":1: connect-timeout", "DURATION"}},
		{"duplicate", "max-queued: 1\nmax-queued: 2\n", []string{":2: max-queued: set twice (first on line 1)"}},
		{"nested", "tls:\n  cert: a.pem\n", []string{":1: tls: unknown key"}},
		{"map value", "max-queued:\n  a: 1\n", []string{":2: max-queued: expected a single value"}},
		{"list for a number", "max-queued: [1, 2]\n", []string{":1: max-queued: invalid value \"1,2\""}},
		{"config in config", "config: other.yaml\n", []string{":1: config: a config file cannot name another"}},
		{"not a mapping", "- listen\n", []string{":1: the file must be a mapping"}},
		{"not yaml", "listen: [\n", []string{"not valid YAML"}},
		{"checked value", "max-queued: 5\nmax-inflight: 0\n", []string{"max inflight 0 is out of range", "cp7.yaml:2: max-inflight"}},
		{"checked flag", "max-keepalive: 70000\n", []string{"65535", "cp7.yaml:1: max-keepalive"}},
		{"checked combination", "listen: :1\nproxy-protocol: true\n", []string{"-proxy-trusted", "cp7.yaml:2: proxy-protocol"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.text)
			_, err := parseFlagsEnv([]string{"-config", p}, noEnv)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	_, err := parseFlagsEnv([]string{"-config", filepath.Join(t.TempDir(), "missing.yaml")}, noEnv)
	require.ErrorContains(t, err, "no such file")
	require.ErrorContains(t, err, "-config")
}

// sampleValue gives a value other than flag f's default that its Set
// accepts, so each key can be round-tripped. Flags of custom types name
// theirs in customSamples.
var customSamples = map[string]string{}

func sampleValue(t *testing.T, f *flag.Flag) string {
	if v, ok := customSamples[f.Name]; ok {
		return v
	}
	if r, ok := f.Value.(repeatable); ok && r.repeatable() {
		return "sample-a,sample-b"
	}
	g, ok := f.Value.(flag.Getter)
	require.True(t, ok, "flag -%s has a custom type: add a sample value to customSamples", f.Name)
	switch v := g.Get().(type) {
	case bool:
		return strconv.FormatBool(!v)
	case int:
		return strconv.Itoa(v + 3)
	case uint:
		return strconv.FormatUint(uint64(v+3), 10)
	case int64:
		return strconv.FormatInt(v+3, 10)
	case uint64:
		return strconv.FormatUint(v+3, 10)
	case float64:
		return strconv.FormatFloat(v+0.5, 'g', -1, 64)
	case time.Duration:
		return (v + 1500*time.Millisecond).String()
	case string:
		return v + "sample:value #not-a-comment"
	}
	t.Fatalf("flag -%s: no sample for %T", f.Name, g.Get())
	return ""
}

// TestEveryKeyRoundTrips: for every flag cp7 has, a file setting it is read
// into the flag, `config check` prints it back (marked as from the file),
// and that output read as a config file gives the same value again.
func TestEveryKeyRoundTrips(t *testing.T) {
	o, err := parseFlagsEnv(nil, noEnv)
	require.NoError(t, err)
	n := 0
	o.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		n++
		t.Run(f.Name, func(t *testing.T) {
			want := sampleValue(t, f)
			fs1, set1 := loadOne(t, fmt.Sprintf("%s: %s\n", f.Name, yamlList(f, want)))
			got := fs1.Lookup(f.Name).Value.String()
			require.Equal(t, want, got, "file -> flag")
			require.Equal(t, fromFile, set1[f.Name])

			out := string(writeEffective(fs1, set1))
			line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f.Name) + `: (.*) # file$`).FindStringSubmatch(out)
			require.NotNil(t, line, "config check prints %s as from the file:\n%s", f.Name, out)
			if masked(f.Name, want) != want {
				require.NotContains(t, out, want, "a secret is never printed")
				return
			}
			fs2, _ := loadOne(t, out)
			require.Equal(t, want, fs2.Lookup(f.Name).Value.String(), "config check output -> flag")
		})
	})
	require.Greater(t, n, 20)
}

// yamlList writes a repeatable flag's sample as a YAML list.
func yamlList(f *flag.Flag, v string) string {
	if r, ok := f.Value.(repeatable); ok && r.repeatable() {
		return "[" + v + "]"
	}
	return quoteYAML(v)
}

// loadOne reads a config file into a fresh flag set without checking the
// values' combination (each key is tested on its own).
func loadOne(t *testing.T, text string) (*flag.FlagSet, map[string]source) {
	t.Helper()
	fresh, err := parseFlagsEnv(nil, noEnv) // new variables behind every flag
	require.NoError(t, err)
	require.NoError(t, fresh.fs.Set("config", writeConfig(t, text)))
	set, _, err := loadConfig(fresh.fs, noEnv)
	require.NoError(t, err)
	return fresh.fs, set
}

func TestConfigCheckCommand(t *testing.T) {
	p := writeConfig(t, "max-inflight: 64\nlisten: 127.0.0.1:0\n")
	var out bytes.Buffer
	env := map[string]string{"CP7_MAX_QUEUED": "9"}
	require.NoError(t, runConfig([]string{"check", p, "-max-packet-size", "4096"}, &out, func(k string) string { return env[k] }))
	s := out.String()
	require.Contains(t, s, "is valid")
	require.Contains(t, s, "max-inflight: 64 # file\n")
	require.Contains(t, s, "listen: 127.0.0.1:0 # file\n")
	require.Contains(t, s, "max-queued: 9 # env\n")
	require.Contains(t, s, "max-packet-size: 4096 # flag\n")
	require.Contains(t, s, "connect-timeout: 10s # default\n")

	bad := writeConfig(t, "max-inflight: 0\n")
	err := runConfig([]string{"check", bad}, &out, noEnv)
	require.ErrorContains(t, err, "cp7.yaml:1: max-inflight")
	require.ErrorContains(t, runConfig([]string{"check"}, &out, noEnv), "needs the FILE")
	require.ErrorContains(t, runConfig([]string{"lint"}, &out, noEnv), "use check or example")
}

func TestSecretsAreMasked(t *testing.T) {
	require.Equal(t, "********", masked("admin-token", "s3cret"))
	require.Equal(t, "********", masked("cluster-password", "s3cret"))
	require.Equal(t, "/etc/cp7/passwd", masked("password-file", "/etc/cp7/passwd"))
	require.Equal(t, "nats://u:xxxxx@127.0.0.1:4222,nats://127.0.0.2:4222", masked("nats-url", "nats://u:pw@127.0.0.1:4222,nats://127.0.0.2:4222"))
	require.Equal(t, "http://127.0.0.1/auth", masked("auth-http-url", "http://127.0.0.1/auth"))
	require.Equal(t, "", masked("admin-token", ""))
}

// TestExampleConfigIsCurrent keeps deploy/cp7.example.yaml in step with the
// flags, and checks that uncommenting every key gives exactly the defaults.
func TestExampleConfigIsCurrent(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, runConfig([]string{"example"}, &out, noEnv))
	have, err := os.ReadFile("../../deploy/cp7.example.yaml")
	require.NoError(t, err)
	require.Equal(t, out.String(), string(have), "deploy/cp7.example.yaml is out of date: run make config-example")

	uncommented := regexp.MustCompile(`(?m)^#([a-z0-9-]+: )`).ReplaceAllString(out.String(), "$1")
	o, err := parseFlagsEnv([]string{"-config", writeConfig(t, uncommented)}, noEnv)
	require.NoError(t, err)
	def, err := parseFlagsEnv(nil, noEnv)
	require.NoError(t, err)
	keys := 0
	o.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		keys++
		require.Equal(t, fromFile, o.set[f.Name], "the example sets %s", f.Name)
		require.Equal(t, def.fs.Lookup(f.Name).Value.String(), f.Value.String(), "the example's %s is its default", f.Name)
	})
	require.Equal(t, keys, strings.Count(out.String(), "\n#")-strings.Count(out.String(), "\n# "))
}

// TestReloadLogsWhatChanged: SIGHUP re-reads the file, applies the log
// level live, names every other change as needing a restart, and keeps
// everything when the file no longer parses.
func TestReloadLogsWhatChanged(t *testing.T) {
	p := writeConfig(t, "log-level: info\nmax-inflight: 8\n")
	args := []string{"-config", p}
	o, err := parseFlagsEnv(args, noEnv)
	require.NoError(t, err)
	var logs bytes.Buffer
	log, err := newLogger(o)
	require.NoError(t, err)
	log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: &o.level}))

	require.NoError(t, os.WriteFile(p, []byte("log-level: debug\nmax-inflight: 16\n"), 0o600))
	reloadSettings(args, o, log)
	out := logs.String()
	require.Contains(t, out, `msg="SIGHUP: setting applied" key=log-level was=info now=debug`)
	require.Equal(t, slog.LevelDebug, o.level.Level())
	require.Contains(t, out, `key=max-inflight running=8 new=16`)
	require.Contains(t, out, "takes effect after a restart")
	require.Equal(t, 8, o.cfg.MaxInflight, "a restart-only setting is not changed live")

	logs.Reset()
	require.NoError(t, os.WriteFile(p, []byte("log-level: loud\n"), 0o600))
	reloadSettings(args, o, log)
	require.Contains(t, logs.String(), "settings not reloaded; the running ones stay")
	require.Contains(t, logs.String(), "debug, info, warn or error")
	require.Equal(t, slog.LevelDebug, o.level.Level())
}
