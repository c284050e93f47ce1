package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

// cpuSnapshot is the CPU time used so far by the machine, this process and the watched
// process groups. On a machine shared by the load generator and the servers (and perhaps
// other work) it tells who used the cores during a run.
type cpuSnapshot struct {
	at      time.Time
	busy    float64 // seconds, all CPUs, from /proc/stat (idle, iowait and steal excluded)
	self    float64 // seconds, this process (getrusage)
	watched float64 // seconds, every process in the watched groups (/proc/*/stat)
	ok      bool    // /proc/stat was readable
}

func takeCPUSnapshot(pgids []int) cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = tv(ru.Utime) + tv(ru.Stime)
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		s.busy, s.ok = parseProcStat(b)
	}
	if len(pgids) > 0 {
		s.watched = groupCPU(pgids)
	}
	return s
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// parseProcStat returns the busy seconds of all CPUs from the "cpu" line of /proc/stat:
// user nice system idle iowait irq softirq steal …; busy is everything but idle, iowait
// and steal (time the hypervisor ran someone else).
func parseProcStat(b []byte) (float64, bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy uint64
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 && i != 4 && i != 7 { // idle, iowait, steal
			busy += n
		}
	}
	return float64(busy) / userHZ, true
}

// groupCPU sums utime+stime of every live process whose process group is in pgids.
func groupCPU(pgids []int) float64 {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total float64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended
		}
		pgrp, cpu, ok := parsePidStat(b)
		if ok && slices.Contains(pgids, pgrp) {
			total += cpu
		}
	}
	return total
}

// parsePidStat returns the process group and utime+stime (seconds) from /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are counted from
// the last ')'.
func parsePidStat(b []byte) (pgrp int, cpu float64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, 0, false
	}
	pg, err1 := strconv.Atoi(f[2])               // field 5
	ut, err2 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err3 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return pg, float64(ut+st) / userHZ, true
}

// cpuUse is how many cores each party used on average between two snapshots.
type cpuUse struct {
	MachineCores   float64 `json:"machine_cores"`             // all busy time
	LoadgenCores   float64 `json:"loadgen_cores"`             // this load generator
	ServerCores    float64 `json:"server_cores,omitempty"`    // the watched process groups
	OtherCores     float64 `json:"other_cores,omitempty"`     // the rest: other work on the machine, and the kernel's share not charged to a process
	ServerCPUPerRq float64 `json:"server_cpu_us_per_request"` // server CPU per successful request
}

func cpuBetween(a, b cpuSnapshot, watched bool, ok int) *cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || secs <= 0 {
		return nil
	}
	u := &cpuUse{
		MachineCores: round3((b.busy - a.busy) / secs),
		LoadgenCores: round3((b.self - a.self) / secs),
	}
	if watched {
		u.ServerCores = round3((b.watched - a.watched) / secs)
		u.OtherCores = round3(max(0, u.MachineCores-u.LoadgenCores-u.ServerCores))
		if ok > 0 {
			u.ServerCPUPerRq = round3((b.watched - a.watched) / float64(ok) * 1e6)
		}
	}
	return u
}

func parsePGIDs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 1 {
			return nil, fmt.Errorf("-watch-pgid %q: want process group ids, comma separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}
