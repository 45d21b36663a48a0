package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func opsOf(t *testing.T, o *options) *opsFlags {
	t.Helper()
	for _, g := range o.groups {
		if f, ok := g.(*opsFlags); ok {
			return f
		}
	}
	t.Fatal("no ops flag group")
	return nil
}

func TestOpsFlagDefaults(t *testing.T) {
	o, err := parseFlags(nil)
	require.NoError(t, err)
	f := opsOf(t, o)
	require.Equal(t, "127.0.0.1:18083", f.adminListen)
	require.Equal(t, "", f.adminToken)
	require.Equal(t, 10*time.Second, o.cfg.SysInterval)
	require.Equal(t, 10*time.Second, o.shutdownTimeout)
	require.Equal(t, "text", o.logFormat)
}

func TestOpsFlagsSet(t *testing.T) {
	o, err := parseFlags([]string{"-admin-listen", "0.0.0.0:9000", "-admin-token", "t0k", "-sys-interval", "0",
		"-shutdown-timeout", "3s", "-log-format", "json"})
	require.NoError(t, err)
	f := opsOf(t, o)
	require.Equal(t, "0.0.0.0:9000", f.adminListen)
	require.Equal(t, "t0k", f.adminToken)
	require.Equal(t, time.Duration(0), o.cfg.SysInterval)
	require.Equal(t, 3*time.Second, o.shutdownTimeout)
	require.Equal(t, "json", o.logFormat)
	_, err = parseFlags([]string{"-admin-listen", "[::1]:9000"})
	require.NoError(t, err, "loopback needs no token")
}

func TestOpsBadFlagsSayWhatToDo(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-admin-listen", "0.0.0.0:18083"}, "-admin-token"},
		{[]string{"-admin-listen", ":18083"}, "-admin-token"},
		{[]string{"-log-format", "xml"}, "text or json"},
		{[]string{"-sys-interval", "-1s"}, "negative"},
		{[]string{"-sys-interval", "100ms"}, "1s"},
		{[]string{"-shutdown-timeout", "0s"}, "positive"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(tc.args)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLogFormatJSON(t *testing.T) {
	l, err := newLogger(&options{logLevel: "info", logFormat: "json"})
	require.NoError(t, err)
	require.IsType(t, &slog.JSONHandler{}, l.Handler())
	l, err = newLogger(&options{logLevel: "info", logFormat: "text"})
	require.NoError(t, err)
	require.IsType(t, &slog.TextHandler{}, l.Handler())
	_, err = newLogger(&options{logLevel: "info", logFormat: "yaml"})
	require.ErrorContains(t, err, "text or json")
}
