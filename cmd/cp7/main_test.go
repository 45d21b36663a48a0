package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultsWithNoFlags(t *testing.T) {
	o, err := parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:1883", o.cfg.Listen)
	require.Equal(t, 1<<20, o.cfg.MaxPacketSize)
	require.Equal(t, uint16(0), o.cfg.MaxKeepAlive)
	require.Equal(t, ":8883", o.lst.tlsListen)
	require.Equal(t, ":8083", o.lst.wsListen)
	require.Equal(t, ":8084", o.lst.wssListen)
	require.False(t, o.cfg.ProxyProtocol)
}

func TestFlagsSetTheConfig(t *testing.T) {
	o, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-max-packet-size", "4096", "-max-keepalive", "120",
		"-max-inflight", "8", "-max-queued", "50", "-proxy-protocol", "-proxy-trusted", "10.0.0.0/8,127.0.0.1"})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:0", o.cfg.Listen)
	require.Equal(t, 4096, o.cfg.MaxPacketSize)
	require.Equal(t, uint16(120), o.cfg.MaxKeepAlive)
	require.Equal(t, 8, o.cfg.MaxInflight)
	require.Equal(t, 50, o.cfg.MaxQueued)
	require.True(t, o.cfg.ProxyProtocol)
	require.NotNil(t, o.cfg.ProxyTrusted)
}

// TestBadFlagsSayWhatToDo checks that each bad setting is refused with an
// error naming the flag and the fix, before anything listens.
func TestBadFlagsSayWhatToDo(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(users, []byte("no colon\n"), 0o600))
	clear := filepath.Join(t.TempDir(), "clear")
	require.NoError(t, os.WriteFile(clear, []byte("alice:wonderland\n"), 0o600))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-max-keepalive", "70000"}, "65535"},
		{[]string{"-max-packet-size", "10"}, "max packet size"},
		{[]string{"-max-inflight", "0"}, "max inflight"},
		{[]string{"-tls-cert", "c.pem"}, "-tls-key"},
		{[]string{"-tls-client-ca", "ca.pem"}, "-tls-cert"},
		{[]string{"-tls-min-version", "1.0"}, "1.2 or 1.3"},
		{[]string{"-proxy-protocol"}, "-proxy-trusted"},
		{[]string{"-proxy-protocol", "-proxy-trusted", "not-a-cidr"}, "-proxy-trusted"},
		{[]string{"-scram-users", users}, "user:hash"},
		{[]string{"-scram-users", clear}, "in clear"},
		{[]string{"-scram-users", filepath.Join(t.TempDir(), "missing")}, "-scram-users"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"-shared-strategy", "first"}, "round-robin, random, hash-client or hash-topic"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(tc.args)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := parseLevel("loud")
	require.ErrorContains(t, err, "debug, info, warn or error")
	_, err = startProfile("heap")
	require.ErrorContains(t, err, "cpu, mem, block, mutex or trace")
}

func TestHelpIsNotAnError(t *testing.T) {
	_, err := parseFlags([]string{"-h"})
	require.True(t, errors.Is(err, flag.ErrHelp))
}
