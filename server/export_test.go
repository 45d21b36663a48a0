package server

import "testing"

// BenchPublishQoS0With runs the QoS 0 publish benchmark (client "pub"
// publishes on sensors/42/temp to one subscriber, "sub0", on the same loop)
// on a broker whose Config.ACL is a. It is exported for server_test, whose
// benchmarks use server/acl (which imports server).
func BenchPublishQoS0With(b *testing.B, a Authorizer) {
	benchPublishWith(b, 4, 1, func(c *Config) { c.ACL = a })
}
