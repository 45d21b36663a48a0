//go:build !race

package server_test

import (
	"testing"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/acl"
)

// TestPublishWithACLAllocations: with an ACL of 10,000 rules the QoS 0
// publish path (the publisher's check and the subscriber's) still
// allocates nothing once the clients' views are built. (Not under -race,
// which allocates on its own.)
func TestPublishWithACLAllocations(t *testing.T) {
	r := aclRulesForTest(t, 10000)
	for name, a := range map[string]server.Authorizer{"none": nil, "rules-10000": acl.New(r, false)} {
		allocs, got := server.PublishQoS0Allocs(t, a)
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per QoS 0 publish, want 0", name, allocs)
		}
		if got < 201*64 {
			t.Errorf("%s: the subscriber received %d bytes: the publishes were denied or lost", name, got)
		}
	}
}
