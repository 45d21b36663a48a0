package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/acl"
)

// aclBenchRules is a file of n rules, half for one client id each (the
// index skips them for every other client) and half for everybody (all in
// the publisher's trie, under the level its topic walks through), plus the
// two rules that let "pub" publish and "sub0" receive.
func aclBenchRules(b *testing.B, n int) *acl.Rules { return aclRulesForTest(b, n) }

func aclRulesForTest(tb testing.TB, n int) *acl.Rules {
	var sb strings.Builder
	for i := range n / 2 {
		fmt.Fprintf(&sb, "allow both devices/dev%d/# client=dev%d\n", i, i)
	}
	for i := range n/2 - 2 {
		fmt.Fprintf(&sb, "allow pub sensors/%d/+/status\n", i)
	}
	sb.WriteString("allow pub sensors/+/temp client=pub\nallow sub sensors/# client=sub*\n")
	r, err := acl.Parse("bench.acl", []byte(sb.String()), acl.FormatCP7)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkPublishACL compares the QoS 0 publish path (decode, ACL check
// of the publisher, route, ACL read check of the subscriber, encode,
// flush) with no ACL, with an ACL that has no rule for these clients
// (default allow: no view, nothing checked), and with 10,000 rules. Run:
//
//	go test -run '^$' -bench 'PublishACL' -benchtime 2000000x ./server/
func BenchmarkPublishACL(b *testing.B) {
	b.Run("none", func(b *testing.B) { server.BenchPublishQoS0With(b, nil) })
	b.Run("no-entry", func(b *testing.B) {
		r, err := acl.Parse("x.acl", []byte("allow pub x client=someone-else\n"), acl.FormatCP7)
		if err != nil {
			b.Fatal(err)
		}
		server.BenchPublishQoS0With(b, acl.New(r, true))
	})
	b.Run("rules-10000", func(b *testing.B) { server.BenchPublishQoS0With(b, acl.New(aclBenchRules(b, 10000), false)) })
}
