//go:build !race

package server_test

// hostileScale divides the hostile suite's client counts (1: full counts;
// see hostile_race_test.go).
const hostileScale = 1
