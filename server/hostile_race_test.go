//go:build race

package server_test

// hostileScale divides the hostile suite's client counts under the race
// detector, which makes every packet ~10x dearer, so the suite stays within
// its time on 2 cores. The cases are the same; only the counts shrink.
const hostileScale = 5
