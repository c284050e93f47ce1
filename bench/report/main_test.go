package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRatios(t *testing.T) {
	rs := func(bulwarkErrors int) results {
		return results{
			"direct":  {"1000": {P99MS: 0.5}, "sat": {RPS: 20000}},
			"nginx":   {"1000": {P99MS: 0.9}, "sat": {RPS: 10000}},
			"bulwark": {"1000": {P99MS: 1.7, Errors: bulwarkErrors}, "sat": {RPS: 7000}},
		}
	}
	tests := []struct {
		name string
		rs   results
		want map[string]any
	}{
		{"all goals met", rs(0), map[string]any{
			"bulwark_over_nginx_saturation_rps": 0.7, "throughput_goal_met": true,
			"bulwark_added_p99_ms_at_1000": 1.2, "latency_goal_met": true,
			"nginx_added_p99_ms_at_1000": 0.4,
		}},
		{"a run with errors gives no latency figure", rs(3), map[string]any{
			"bulwark_over_nginx_saturation_rps": 0.7, "throughput_goal_met": true,
			"nginx_added_p99_ms_at_1000": 0.4,
		}},
		{"goals missed", results{
			"direct":  {"1000": {P99MS: 0.5}},
			"nginx":   {"1000": {P99MS: 0.9}, "sat": {RPS: 10000}},
			"bulwark": {"1000": {P99MS: 2.5}, "sat": {RPS: 5000}},
		}, map[string]any{
			"bulwark_over_nginx_saturation_rps": 0.5, "throughput_goal_met": false,
			"bulwark_added_p99_ms_at_1000": 2.0, "latency_goal_met": false,
			"nginx_added_p99_ms_at_1000": 0.4,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ratios(tc.rs)
			delete(got, "goal_bulwark_over_nginx_saturation_rps_min")
			delete(got, "goal_bulwark_added_p99_ms_at_1000_max")
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, w := range tc.want {
				if got[k] != w {
					t.Errorf("%s = %v, want %v", k, got[k], w)
				}
			}
		})
	}
}

func TestLoads(t *testing.T) {
	got := loads(map[string]result{"sat": {}, "1000": {}, "500": {}})
	if want := []string{"500", "1000", "sat"}; !slices.Equal(got, want) {
		t.Errorf("loads = %v, want %v", got, want)
	}
}

func TestRunWritesReport(t *testing.T) {
	in := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(in, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("direct-sat.json", `{"rps": 9000, "p50_ms": 1, "p99_ms": 3, "errors": 0, "proto": "HTTP/1.1"}`)
	write("direct-500.json", `{"rps": 500, "p50_ms": 0.2, "p99_ms": 0.4, "errors": 0}`)
	write("bulwark-sat.json", `{"rps": 3000, "p50_ms": 5, "p99_ms": 20, "errors": 2, "error_kinds": {"timeout": 2}}`)
	write("notes.txt", "ignored")
	out := filepath.Join(t.TempDir(), "out", "latest.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-in", in, "-out", out, "-mode", "quick", "-commit", "abc", "-note", "nginx=1.22"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Direct struct {
			RPS   float64                    `json:"rps"`
			P99MS float64                    `json:"p99_ms"`
			Rates map[string]json.RawMessage `json:"rates"`
		} `json:"direct"`
		Bulwark struct {
			Errors int `json:"errors"`
		} `json:"bulwark"`
		Meta map[string]any `json:"meta"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Direct.RPS != 9000 || rep.Direct.P99MS != 3 || len(rep.Direct.Rates) != 1 || rep.Bulwark.Errors != 2 {
		t.Errorf("report = %s", b)
	}
	if rep.Meta["mode"] != "quick" || rep.Meta["git_commit"] != "abc" || rep.Meta["nginx"] != "1.22" || rep.Meta["nproc"] == nil {
		t.Errorf("meta = %v", rep.Meta)
	}
	if !strings.Contains(stdout.String(), "saturation") || !strings.Contains(stdout.String(), "timeout") {
		t.Errorf("table lacks the saturation row or the error kinds:\n%s", stdout.String())
	}
}
