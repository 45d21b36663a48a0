package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Summary is the one machine-readable result of a run. It prints as one line
// "SUMMARY key=value ..." in field order (or, with -json, as one JSON object
// with the same keys). Counts are totals over all processes; -1 means the
// value is unknown (lost without publishers in this run, broker fields without
// -broker-pid).
type Summary struct {
	Mode         string  `json:"mode"`
	Procs        int     `json:"procs"`
	Conns        int64   `json:"conns"`        // connections that got a successful CONNACK (and SUBACK)
	ConnFail     int64   `json:"conn_fail"`    // connection attempts that failed
	ConnectSec   float64 `json:"connect_s"`    // first dial to last CONNACK
	ConnectRate  float64 `json:"connect_rate"` // conns / connect_s
	Pubs         int     `json:"pubs"`
	Subs         int     `json:"subs"`
	QoS          int     `json:"qos"`
	PayloadSize  int     `json:"size"`
	OfferedRate  float64 `json:"offered_rate"` // msg/s asked for, all publishers together
	DurationSec  float64 `json:"duration_s"`   // publish window
	Sent         int64   `json:"sent"`
	Acked        int64   `json:"acked"` // PUBACK/PUBCOMP received (QoS 1/2)
	Recv         int64   `json:"recv"`
	Expected     int64   `json:"expected"` // deliveries the sent messages should cause
	Lost         int64   `json:"lost"`
	SendRate     float64 `json:"send_rate"`
	RecvRate     float64 `json:"recv_rate"`
	P50us        float64 `json:"p50_us"`
	P90us        float64 `json:"p90_us"`
	P99us        float64 `json:"p99_us"`
	MaxUs        float64 `json:"max_us"`
	Errors       int64   `json:"errors"`
	BrokerCPUms  float64 `json:"broker_cpu_ms"`         // utime+stime during the publish window and drain
	BrokerCPUMsg float64 `json:"broker_cpu_us_per_msg"` // broker_cpu_ms*1000 / recv
	// The user-space part (utime alone): the broker's own code and runtime,
	// without the kernel's socket work, which on loopback includes the
	// receivers' TCP input.
	BrokerUserCPUms  float64 `json:"broker_user_cpu_ms"`
	BrokerUserCPUMsg float64 `json:"broker_user_cpu_us_per_msg"`
	BrokerRSSKB      int64   `json:"broker_rss_kb"` // at the end (conn mode: while all connections are up)
	BrokerRSSPk      int64   `json:"broker_rss_peak_kb"`
	BrokerRSSDel     int64   `json:"broker_rss_delta_kb"` // end minus before the first connect
	BrokerBPConn     float64 `json:"broker_bytes_per_conn"`
}

// unknownSummary returns a Summary whose optional fields say "unknown".
func unknownSummary() Summary {
	return Summary{Lost: -1, Expected: -1, BrokerCPUms: -1, BrokerCPUMsg: -1, BrokerUserCPUms: -1, BrokerUserCPUMsg: -1,
		BrokerRSSKB: -1, BrokerRSSPk: -1, BrokerRSSDel: -1, BrokerBPConn: -1}
}

// Line formats s as "SUMMARY k=v k=v ..." with the JSON keys in field order.
func (s Summary) Line() string {
	var b strings.Builder
	b.WriteString("SUMMARY")
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		b.WriteByte(' ')
		b.WriteString(t.Field(i).Tag.Get("json"))
		b.WriteByte('=')
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			b.WriteString(f.String())
		case reflect.Int, reflect.Int64:
			b.WriteString(strconv.FormatInt(f.Int(), 10))
		case reflect.Float64:
			b.WriteString(formatFloat(f.Float()))
		}
	}
	return b.String()
}

// JSON formats s as one JSON object.
func (s Summary) JSON() string {
	b, _ := json.Marshal(s) // a struct of plain numbers and a string cannot fail
	return string(b)
}

func formatFloat(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 3, 64)
}

// ParseSummary reads a line written by Line. Unknown keys are an error, so
// that a script and the tool that disagree on the format say so; missing keys
// keep their zero value.
func ParseSummary(line string) (Summary, error) {
	var s Summary
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "SUMMARY")
	if !ok || (rest != "" && rest[0] != ' ') {
		return s, fmt.Errorf("cp7bench: %q is not a summary line; it must start with SUMMARY", trunc(line))
	}
	v := reflect.ValueOf(&s).Elem()
	t := v.Type()
	index := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		index[t.Field(i).Tag.Get("json")] = i
	}
	for _, kv := range strings.Fields(rest) {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return s, fmt.Errorf("cp7bench: summary field %q has no '='; fields are key=value", kv)
		}
		i, known := index[k]
		if !known {
			return s, fmt.Errorf("cp7bench: summary key %q is unknown to this cp7bench; rebuild the tool or the script", k)
		}
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(val)
		case reflect.Int, reflect.Int64:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return s, fmt.Errorf("cp7bench: summary key %s=%q is not an integer", k, val)
			}
			f.SetInt(n)
		case reflect.Float64:
			x, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return s, fmt.Errorf("cp7bench: summary key %s=%q is not a number", k, val)
			}
			f.SetFloat(x)
		}
	}
	return s, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
