package main

import "testing"

func TestParseStatCPU(t *testing.T) {
	// comm with spaces and a ')' inside; utime 1234, stime 56.
	line := "4242 (my (odd) broker) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 56 0 0 20 0 9 0 100 1000000 500 18446744073709551615\n"
	got, user, err := parseStatCPU([]byte(line))
	if err != nil || got != 1290 || user != 1234 {
		t.Fatalf("parseStatCPU = %d, %d, %v; want 1290, 1234", got, user, err)
	}
	if _, _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("short stat line accepted")
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tmosquitto\nVmPeak:\t  20000 kB\nVmRSS:\t    8808 kB\nThreads:\t1\n"
	if kb, err := parseVmRSS([]byte(status)); err != nil || kb != 8808 {
		t.Fatalf("parseVmRSS = %d, %v", kb, err)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\nState:\tZ (zombie)\n")); err == nil {
		t.Fatal("status without VmRSS accepted")
	}
}
