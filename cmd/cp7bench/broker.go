package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// kernel reports 100 on every Linux architecture Go supports.
const clockTicks = 100

// brokerProc reads a broker's CPU time and memory from /proc.
type brokerProc struct{ pid int }

// cpuTicks returns utime+stime and utime alone (fields 14 and 15 of
// /proc/PID/stat).
func (b brokerProc) cpuTicks() (total, user int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cp7bench: -broker-pid %d: %v", b.pid, err)
	}
	return parseStatCPU(data)
}

// parseStatCPU reads utime+stime and utime from a /proc/PID/stat line. The
// command name in parentheses may hold spaces, so fields are counted after
// the last ')'.
func parseStatCPU(data []byte) (total, user int64, err error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("cp7bench: /proc stat line has no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// After ')' come field 3 (state) onwards: utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("cp7bench: /proc stat line has %d fields after the name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("cp7bench: /proc stat utime %q or stime %q is not a number", f[11], f[12])
	}
	return ut + st, ut, nil
}

// rssKB returns VmRSS from /proc/PID/status, in KiB.
func (b brokerProc) rssKB() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.pid))
	if err != nil {
		return 0, fmt.Errorf("cp7bench: -broker-pid %d: %v", b.pid, err)
	}
	return parseVmRSS(data)
}

func parseVmRSS(data []byte) (int64, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("cp7bench: no VmRSS line in /proc status (is the broker a zombie?)")
}
