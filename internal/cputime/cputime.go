// Package cputime reads the CPU time the process has used, for benchmarks
// that report it beside wall time: with an in-process server, the time
// the whole process spends on an operation (client, server and runtime)
// is the measure that does not depend on how idle the machine is.
package cputime

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Process returns the user and system CPU time the process has used, from
// /proc/self/stat (Linux, where USER_HZ is 100, so the resolution is 10 ms),
// or false where that file cannot be read or parsed.
func Process() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	return parseStat(string(raw))
}

// parseStat reads utime and stime from the text of /proc/<pid>/stat.
func parseStat(s string) (time.Duration, bool) {
	// The fields after the command name, which ends at the last ')', start
	// at field 3 (state); utime and stime are fields 14 and 15.
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}
