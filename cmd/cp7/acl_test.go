package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cp7/cp7/server"
)

func aclGroup(o *options) *aclFlags {
	for _, g := range o.groups {
		if a, ok := g.(*aclFlags); ok {
			return a
		}
	}
	return nil
}

// TestACLFlags: -acl-file loads the rules into Config.ACL; a bad file is
// refused naming the file and line; -acl-format and -acl-default are checked.
func TestACLFlags(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "acl")
	require.NoError(t, os.WriteFile(good, []byte("allow pub a/#\n"), 0o600))
	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("# x\nallow publish a\n"), 0o600))
	mosq := filepath.Join(dir, "mosq")
	require.NoError(t, os.WriteFile(mosq, []byte("user u\ntopic read a/#\n"), 0o600))

	o, err := parseFlags(nil)
	require.NoError(t, err)
	require.Nil(t, o.cfg.ACL, "no -acl-file: no ACL")

	o, err = parseFlags([]string{"-acl-file", good})
	require.NoError(t, err)
	require.NotNil(t, o.cfg.ACL)
	v := o.cfg.ACL.ForClient(&server.ClientIdentity{ClientID: "c"})
	require.True(t, v.CanPublish([]byte("a/b")))
	require.False(t, v.CanPublish([]byte("b")), "-acl-default is deny")

	_, err = parseFlags([]string{"-acl-file", bad})
	require.ErrorContains(t, err, bad+":2")
	require.ErrorContains(t, err, "use pub (publish), sub")

	_, err = parseFlags([]string{"-acl-file", mosq, "-acl-format", "cp7"})
	require.ErrorContains(t, err, mosq+":1")
	require.ErrorContains(t, err, "allow or deny")
	o, err = parseFlags([]string{"-acl-file", mosq, "-acl-format", "mosquitto", "-acl-default", "allow"})
	require.NoError(t, err)
	require.Equal(t, "mosquitto", aclGroup(o).acl.Rules().Format().String())

	_, err = parseFlags([]string{"-acl-format", "json"})
	require.ErrorContains(t, err, "auto, cp7 or mosquitto")
	_, err = parseFlags([]string{"-acl-default", "maybe"})
	require.ErrorContains(t, err, "allow or deny")
}

// TestACLReloadKeepsRulesOnError: SIGHUP's reload swaps in a good file and
// keeps the rules in force when the new file does not load, saying why.
func TestACLReloadKeepsRulesOnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "acl")
	require.NoError(t, os.WriteFile(file, []byte("allow pub a\n"), 0o600))
	o, err := parseFlags([]string{"-acl-file", file})
	require.NoError(t, err)
	g := aclGroup(o)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	gen := o.cfg.ACL.Generation()

	require.NoError(t, os.WriteFile(file, []byte("allow pub b\n"), 0o600))
	g.reload(log)
	require.NotEqual(t, gen, o.cfg.ACL.Generation())
	v := o.cfg.ACL.ForClient(&server.ClientIdentity{ClientID: "c"})
	require.True(t, v.CanPublish([]byte("b")))
	require.False(t, v.CanPublish([]byte("a")))

	gen = o.cfg.ACL.Generation()
	require.NoError(t, os.WriteFile(file, []byte("allow pub b\nallow nothing c\n"), 0o600))
	g.reload(log)
	require.Equal(t, gen, o.cfg.ACL.Generation(), "a failed reload must keep the rules")
	require.True(t, strings.Contains(logs.String(), "ACL reload failed") && strings.Contains(logs.String(), file+":2"), logs.String())
}

// TestACLCommand: cp7 acl checks a file and answers questions for one
// client.
func TestACLCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "acl")
	require.NoError(t, os.WriteFile(file, []byte("allow pub up/%c/# user=dev\nallow sub down/# addr=10.0.0.0/8\n"), 0o600))
	var out bytes.Buffer
	require.NoError(t, runACL([]string{file, "-user", "dev", "-client", "d1", "-addr", "10.1.1.1",
		"pub", "up/d1/x", "pub", "up/d2/x", "sub", "down/#", "recv", "other"}, &out))
	require.Equal(t, file+": cp7 format, 2 rules, default deny\nallow pub up/d1/x\ndeny pub up/d2/x\nallow sub down/#\ndeny recv other\n", out.String())
	out.Reset()
	require.NoError(t, os.WriteFile(file, []byte("allow pub a\nallow nothing b\n"), 0o600))
	require.ErrorContains(t, runACL([]string{file}, &out), file+":2")
	require.ErrorContains(t, runACL([]string{filepath.Join(t.TempDir(), "missing")}, &out), "cannot read")
}
