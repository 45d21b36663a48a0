package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLimitFlagsSetTheConfig(t *testing.T) {
	o, err := parseFlags([]string{"-max-topic-alias", "5", "-max-session-expiry", "1h", "-max-inflight-in", "10",
		"-max-topic-levels", "16", "-max-subscriptions", "7", "-max-queued-bytes", "1000", "-max-connections", "9",
		"-connect-rate", "2.5", "-publish-rate", "100", "-max-retained", "3", "-tcp-keepalive", "0"})
	require.NoError(t, err)
	c := o.cfg
	require.Equal(t, uint16(5), c.TopicAliasMaximum)
	require.Equal(t, uint32(3600), c.MaxSessionExpiry)
	require.Equal(t, uint16(10), c.ReceiveMaximum)
	require.Equal(t, 16, c.MaxTopicLevels)
	require.Equal(t, 7, c.MaxSubscriptions)
	require.Equal(t, 1000, c.MaxQueuedBytes)
	require.Equal(t, 9, c.MaxConnections)
	require.Equal(t, 2.5, c.ConnectRate)
	require.Equal(t, 100.0, c.PublishRate)
	require.Equal(t, 3, c.MaxRetained)
	require.Zero(t, c.TCPKeepAlive)
}

func TestLimitDefaults(t *testing.T) {
	o, err := parseFlags(nil)
	require.NoError(t, err)
	c := o.cfg
	require.Equal(t, uint16(10), c.TopicAliasMaximum)
	require.Equal(t, 128, c.MaxTopicLevels)
	require.Equal(t, 1000, c.MaxSubscriptions)
	require.Zero(t, c.ConnectRate, "a default connect rate would break load tests")
	require.Zero(t, c.PublishRate)
}

func TestLimitFlagsRefuseBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"-max-inflight-in", "0"}, {"-max-topic-alias", "70000"}, {"-max-session-expiry", "-1s"},
		{"-max-subscriptions", "-1"}, {"-connect-rate", "-1"},
	} {
		_, err := parseFlags(args)
		require.Error(t, err, "%v", args)
	}
}
