package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The configuration file is YAML with one key per flag, spelled as the flag
// is (`max-inflight: 64` sets -max-inflight), so that docs, deploy files and
// scripts use one set of names. Precedence, lowest first: the embedded
// default, the file, a CP7_* environment variable (CP7_MAX_INFLIGHT), the
// command line. Every flag of every feature is a key: nothing registers keys
// by hand, so a new flag can't be forgotten here.

// envPrefix starts the environment variable of each flag.
const envPrefix = "CP7_"

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// source says where a flag's value came from, for `cp7 config check`.
type source string

const (
	fromDefault source = "default"
	fromFile    source = "file"
	fromEnv     source = "env"
	fromFlag    source = "flag"
)

// configError is a bad key or value in the file: it names the file, the
// line and the key, and says what the key takes.
type configError struct {
	file string
	line int
	key  string
	msg  string
}

func (e *configError) Error() string {
	if e.key == "" {
		return fmt.Sprintf("config %s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("config %s:%d: %s: %s", e.file, e.line, e.key, e.msg)
}

// fileKey is one key of a loaded config file.
type fileKey struct {
	line  int
	value string
}

// repeatable is implemented by flag values that take the flag many times
// (-jwt-key a -jwt-key b): a YAML list sets each element in turn. A list for
// any other flag is joined with commas, which is what the comma-separated
// flags (-proxy-trusted, -cluster-routes) take.
type repeatable interface {
	repeatable() bool
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) repeatable() bool   { return true }

// applyEnv sets, from CP7_* variables, the flags the command line left
// unset, and records what it set.
func applyEnv(fs *flag.FlagSet, set map[string]source, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] != "" {
			return
		}
		v := getenv(envName(f.Name))
		if v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("environment %s=%q: %v; expected %s", envName(f.Name), v, e, expects(f))
			return
		}
		set[f.Name] = fromEnv
	})
	return err
}

// expects says what a flag takes: its placeholder and its usage text.
func expects(f *flag.Flag) string {
	name, usage := flag.UnquoteUsage(f)
	if name == "" {
		name = "true or false"
	}
	return name + " (" + usage + ")"
}

// readConfig parses a config file into its keys. Unknown keys, duplicate
// keys, nested maps and non-scalar values are errors naming the line.
func readConfig(path string, fs *flag.FlagSet) (map[string]fileKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w (check the path given to -config)", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config %s: not valid YAML: %v", path, err)
	}
	keys := map[string]fileKey{}
	if len(doc.Content) == 0 { // an empty file (or only comments) sets nothing
		return keys, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &configError{file: path, line: root.Line, msg: "the file must be a mapping of `key: value` lines, one per flag (see deploy/cp7.example.yaml)"}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := k.Value
		f := fs.Lookup(name)
		switch {
		case name == "config":
			return nil, &configError{file: path, line: k.Line, key: name, msg: "a config file cannot name another config file"}
		case f == nil:
			return nil, &configError{file: path, line: k.Line, key: name, msg: "unknown key; the keys are the flags of `cp7 -h` without the dash" + suggest(name, fs)}
		}
		if prev, dup := keys[name]; dup {
			return nil, &configError{file: path, line: k.Line, key: name, msg: fmt.Sprintf("set twice (first on line %d)", prev.line)}
		}
		val, err := scalarValue(v, f)
		if err != nil {
			return nil, &configError{file: path, line: v.Line, key: name, msg: err.Error()}
		}
		keys[name] = fileKey{line: k.Line, value: val}
	}
	return keys, nil
}

// listSep separates the elements of a repeatable flag's list between
// readConfig and applyFile; it cannot occur in YAML scalars we accept.
const listSep = "\x00"

// scalarValue turns a YAML value into the text the flag parses.
func scalarValue(v *yaml.Node, f *flag.Flag) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return "", nil // `key:` with nothing: the empty string (turns a listener off)
		}
		return v.Value, nil
	case yaml.SequenceNode:
		sep := ","
		if r, ok := f.Value.(repeatable); ok && r.repeatable() {
			sep = listSep
		}
		parts := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("a list may hold only plain values; expected %s", expects(f))
			}
			parts = append(parts, e.Value)
		}
		return strings.Join(parts, sep), nil
	default:
		return "", fmt.Errorf("expected a single value, %s; keys are flat (no nested sections)", expects(f))
	}
}

// applyFile sets from the file the flags that neither the command line nor
// the environment set.
func applyFile(path string, keys map[string]fileKey, fs *flag.FlagSet, set map[string]source) error {
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return keys[names[i]].line < keys[names[j]].line })
	for _, name := range names {
		if set[name] != "" {
			continue // the command line or the environment wins
		}
		k, f := keys[name], fs.Lookup(name)
		for _, part := range strings.Split(k.value, listSep) {
			if err := f.Value.Set(part); err != nil {
				return &configError{file: path, line: k.line, key: name,
					msg: fmt.Sprintf("invalid value %q: %v; expected %s", k.value, err, expects(f))}
			}
		}
		set[name] = fromFile
	}
	return nil
}

// loadConfig applies the environment and then the config file (if -config
// or CP7_CONFIG names one) to fs, which holds the parsed command line. It
// returns where each set flag came from and the file's keys.
func loadConfig(fs *flag.FlagSet, getenv func(string) string) (map[string]source, map[string]fileKey, error) {
	set := map[string]source{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = fromFlag })
	if err := applyEnv(fs, set, getenv); err != nil {
		return nil, nil, err
	}
	cf := fs.Lookup("config")
	if cf == nil || cf.Value.String() == "" {
		return set, nil, nil
	}
	path := cf.Value.String()
	keys, err := readConfig(path, fs)
	if err != nil {
		return nil, nil, err
	}
	if err := applyFile(path, keys, fs, set); err != nil {
		return nil, nil, err
	}
	return set, keys, nil
}

// locate adds the file and line to a check's error when the setting it
// names came from the file, so `-max-inflight 0`-style errors from apply
// and Validate point at the line to fix.
func locate(err error, path string, keys map[string]fileKey, set map[string]source) error {
	if err == nil || len(keys) == 0 || errors.As(err, new(*configError)) {
		return err
	}
	msg := err.Error()
	best, bestLine := "", 0
	for name, k := range keys {
		if set[name] != fromFile {
			continue
		}
		// Errors name the flag (-max-keepalive) or the setting in words
		// (max inflight); the longest name found is the most specific.
		if (strings.Contains(msg, name) || strings.Contains(msg, strings.ReplaceAll(name, "-", " "))) && len(name) > len(best) {
			best, bestLine = name, k.line
		}
	}
	if best == "" {
		return err
	}
	return fmt.Errorf("%w (config %s:%d: %s)", err, path, bestLine, best)
}

// suggest names a known key close to an unknown one.
func suggest(name string, fs *flag.FlagSet) string {
	best, bestD := "", 4
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// secretName matches flags whose value is a secret; -password-file and the
// like name a file, which is not.
var secretName = regexp.MustCompile(`(token|secret|password|passwd)$`)

// masked returns a flag's value as `cp7 config check` may print it:
// secrets hidden, and passwords in URLs (user:pass@host) hidden.
func masked(name, value string) string {
	if value == "" {
		return value
	}
	if secretName.MatchString(name) {
		return "********"
	}
	if !strings.Contains(value, "@") {
		return value
	}
	parts := strings.Split(value, ",")
	for i, p := range parts {
		if u, err := url.Parse(p); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
				parts[i] = u.String()
			}
		}
	}
	return strings.Join(parts, ",")
}

// writeEffective prints every flag's effective value as a config file that
// cp7 reads back, each with where its value came from; secrets masked.
func writeEffective(fs *flag.FlagSet, set map[string]source) []byte {
	var b bytes.Buffer
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		src := set[f.Name]
		if src == "" {
			src = fromDefault
		}
		fmt.Fprintf(&b, "%s: %s # %s\n", f.Name, yamlValue(f, masked(f.Name, f.Value.String())), src)
	})
	return b.Bytes()
}

// yamlValue renders a flag's value as YAML: a list for repeatable flags,
// a quoted string where YAML would read something else.
func yamlValue(f *flag.Flag, v string) string {
	if r, ok := f.Value.(repeatable); ok && r.repeatable() {
		if v == "" {
			return "[]"
		}
		parts := strings.Split(v, ",")
		for i, p := range parts {
			parts[i] = quoteYAML(p)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return quoteYAML(v)
}

// quoteYAML quotes v unless YAML reads it back as the same plain string.
func quoteYAML(v string) string {
	var n yaml.Node
	if v != "" && yaml.Unmarshal([]byte("k: "+v), &n) == nil && len(n.Content) == 1 {
		if val := n.Content[0].Content[1]; val.Kind == yaml.ScalarNode && val.Value == v && val.Style == 0 {
			return v
		}
	}
	out, _ := yaml.Marshal(v)
	return strings.TrimSuffix(string(out), "\n")
}

// countSource counts the flags set from src.
func countSource(set map[string]source, src source) int {
	n := 0
	for _, s := range set {
		if s == src {
			n++
		}
	}
	return n
}
