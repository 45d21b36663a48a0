//go:build !race

package server_test

import "time"

// hostileScale divides the hostile suite's client counts (1: full counts;
// see hostile_race_test.go).
const hostileScale = 1

// hostileLatency is the well-behaved client's latency bound: the issue's
// contract, a second.
const hostileLatency = time.Second
