package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want float64
		ok   bool
	}{
		// user nice system idle iowait irq softirq steal: busy = 100+0+50+10+5 = 165 ticks
		{"busy excludes idle, iowait and steal", "cpu  100 0 50 9000 30 10 5 7 0 0\ncpu0 1 2 3 4 5 6 7 8\n", 1.65, true},
		{"not the cpu line", "intr 1 2 3\n", 0, false},
		{"short", "cpu 1 2 3\n", 0, false},
		{"garbage", "cpu a b c d e f g h\n", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseProcStat([]byte(tc.in))
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseProcStat = %g, %v; want %g, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParsePidStat(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantPgrp int
		wantCPU  float64
		ok       bool
	}{
		{"plain", "4242 (bulwark) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 2 3\n", 4242, 3, true},
		{"name with spaces and parens", "77 (a) b (c) R 1 70 70 0 -1 0 0 0 0 0 1 2 0 0\n", 70, 0.03, true},
		{"truncated", "77 (x) R 1 70\n", 0, 0, false},
		{"no name", "77 R 1 70 70\n", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pg, cpu, ok := parsePidStat([]byte(tc.in))
			if pg != tc.wantPgrp || cpu != tc.wantCPU || ok != tc.ok {
				t.Errorf("parsePidStat = %d, %g, %v; want %d, %g, %v", pg, cpu, ok, tc.wantPgrp, tc.wantCPU, tc.ok)
			}
		})
	}
}

func TestCPUBetween(t *testing.T) {
	at := time.Unix(0, 0)
	a := cpuSnapshot{at: at, busy: 10, self: 1, watched: 2, ok: true}
	b := cpuSnapshot{at: at.Add(2 * time.Second), busy: 13.6, self: 1.8, watched: 4.4, ok: true}
	u := cpuBetween(a, b, true, 1000)
	want := cpuUse{MachineCores: 1.8, LoadgenCores: 0.4, ServerCores: 1.2, OtherCores: 0.2, ServerCPUPerRq: 2400}
	if *u != want {
		t.Errorf("cpuBetween = %+v, want %+v", *u, want)
	}
	if cpuBetween(cpuSnapshot{}, b, true, 1) != nil {
		t.Error("cpuBetween without /proc/stat: want nil")
	}
}

// The snapshot of this very process group must see this process's own CPU time.
func TestGroupCPUSeesSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	if got := groupCPU([]int{syscall.Getpgrp()}); got <= 0 {
		t.Errorf("groupCPU(own group) = %g, want > 0", got)
	}
}
