package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestSummaryLineRoundTrip(t *testing.T) {
	s := unknownSummary()
	s.Mode, s.Procs, s.Conns, s.ConnectSec, s.ConnectRate = "pubsub", 2, 1000, 0.5, 2000
	s.Pubs, s.Subs, s.QoS, s.PayloadSize, s.OfferedRate = 4, 1, 1, 64, 200000
	s.Sent, s.Recv, s.Expected, s.Lost = 1_000_000, 999_990, 1_000_000, 10
	s.P50us, s.P90us, s.P99us, s.MaxUs = 12.5, 40, 1234.5, 99999.9
	s.BrokerCPUms, s.BrokerCPUMsg = 1530, 1.53
	s.BrokerUserCPUms, s.BrokerUserCPUMsg = 410, 0.41
	line := s.Line()
	if !strings.HasPrefix(line, "SUMMARY mode=pubsub procs=2 conns=1000 ") {
		t.Fatalf("line starts wrong: %s", line)
	}
	for _, kv := range []string{" p50_us=12.500 ", " p99_us=1234.500 ", " lost=10 ", " broker_rss_kb=-1 ", " connect_rate=2000 ", " qos=1 "} {
		if !strings.Contains(line, kv) {
			t.Errorf("line lacks %q: %s", kv, line)
		}
	}
	if strings.Contains(line, "\n") || strings.Count(line, "=") != reflect.TypeOf(s).NumField() {
		t.Errorf("line must be one line with one key per field: %s", line)
	}
	back, err := ParseSummary(line)
	if err != nil {
		t.Fatal(err)
	}
	if back != s {
		t.Errorf("round trip changed the summary:\n got %+v\nwant %+v", back, s)
	}
}

func TestSummaryJSONMatchesLine(t *testing.T) {
	s := unknownSummary()
	s.Mode, s.Recv, s.P99us = "sub", 7, 3.25
	var m map[string]any
	if err := json.Unmarshal([]byte(s.JSON()), &m); err != nil {
		t.Fatal(err)
	}
	line := s.Line()
	for k := range m {
		if !strings.Contains(line, " "+k+"=") {
			t.Errorf("JSON key %s missing from the line", k)
		}
	}
	if m["mode"] != "sub" || m["recv"] != 7.0 || m["p99_us"] != 3.25 || m["lost"] != -1.0 {
		t.Errorf("JSON values wrong: %v", m)
	}
}

func TestParseSummaryErrors(t *testing.T) {
	for _, bad := range []string{
		"SUMMARYX mode=conn",
		"RESULT mode=conn",
		"SUMMARY mode=conn bogus=1",
		"SUMMARY conns=abc",
		"SUMMARY p50_us=x",
		"SUMMARY conns",
	} {
		if _, err := ParseSummary(bad); err == nil {
			t.Errorf("ParseSummary(%q) accepted a bad line", bad)
		} else if !strings.HasPrefix(err.Error(), "cp7bench: ") {
			t.Errorf("error lacks the package prefix: %v", err)
		}
	}
	s, err := ParseSummary("SUMMARY mode=conn conns=5")
	if err != nil || s.Mode != "conn" || s.Conns != 5 {
		t.Errorf("partial line: %+v %v", s, err)
	}
}
