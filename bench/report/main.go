// Command report turns the loadgen results of one bench/run into bench/out/latest.json and
// the table bench/run prints. Its input directory holds one loadgen JSON file per run, named
// <config>-<load>.json: config is direct, nginx or bulwark; load is sat (closed loop) or a
// rate such as 500 or 1000 (open loop).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// configs are the three set-ups, in the order of the table.
var configs = []string{"direct", "nginx", "bulwark"}

// The goals of issue 3: the full chain keeps 60% of nginx's saturation throughput and adds at
// most 1.5 ms of p99 over the bare app at 1000 requests per second.
const (
	goalThroughputRatio = 0.6
	goalAddedP99MS      = 1.5
	goalRate            = "1000"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "directory of loadgen results")
	out := fs.String("out", "", "where to write the JSON report")
	mode := fs.String("mode", "full", "quick or full")
	commit := fs.String("commit", "", "git commit benchmarked")
	var notes noteFlag
	fs.Var(&notes, "note", "key=value added to the metadata (repeatable)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if *in == "" || *out == "" {
		fmt.Fprintln(stderr, "report: -in and -out are required")
		return 2
	}
	results, err := load(*in)
	if err != nil {
		fmt.Fprintln(stderr, "report:", err)
		return 1
	}
	meta := map[string]any{
		"date":       time.Now().UTC().Format(time.RFC3339),
		"go_version": runtime.Version(),
		"nproc":      runtime.NumCPU(),
		"git_commit": *commit,
		"mode":       *mode,
		"load_generator": "bench/loadgen, on the same CPUs as the servers: at saturation it takes " +
			"CPU time the servers would otherwise use, so absolute figures are lower than on a separate client machine",
	}
	for k, v := range notes {
		meta[k] = v
	}
	rep := build(results, meta)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "report:", err)
		return 1
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(stderr, "report:", err)
		return 1
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(stderr, "report:", err)
		return 1
	}
	printTable(stdout, results, rep)
	return 0
}

// result is the part of a loadgen summary the report reads; raw keeps all of it.
type result struct {
	RPS        float64        `json:"rps"`
	P50MS      float64        `json:"p50_ms"`
	P99MS      float64        `json:"p99_ms"`
	Errors     int            `json:"errors"`
	ErrorKinds map[string]int `json:"error_kinds"`
	Proto      string         `json:"proto"`
	TLS        string         `json:"tls"`
	CPU        *struct {
		Server        float64 `json:"server_cores"`
		Loadgen       float64 `json:"loadgen_cores"`
		Other         float64 `json:"other_cores"`
		ServerUSPerRq float64 `json:"server_cpu_us_per_request"`
	} `json:"cpu"`
	raw map[string]any
}

// noisyOtherCores is how much CPU other work may use during a run before the table flags it.
const noisyOtherCores = 0.25

// results maps config → load ("sat", "500", …) → result.
type results map[string]map[string]result

func load(dir string) (results, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	rs := results{}
	for _, f := range files {
		config, load, ok := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".json"), "-")
		if !ok || !slices.Contains(configs, config) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if err := json.Unmarshal(b, &r.raw); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if rs[config] == nil {
			rs[config] = map[string]result{}
		}
		rs[config][load] = r
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("no results in %s", dir)
	}
	return rs, nil
}

// build is the JSON report: per config the saturation figures at the top level, the fixed
// rates under "rates", then the ratios against the goals and the metadata.
func build(rs results, meta map[string]any) map[string]any {
	rep := map[string]any{"meta": meta}
	for _, c := range configs {
		byLoad, ok := rs[c]
		if !ok {
			continue
		}
		entry := map[string]any{}
		if sat, ok := byLoad["sat"]; ok {
			entry["rps"], entry["p50_ms"], entry["p99_ms"], entry["errors"] = sat.RPS, sat.P50MS, sat.P99MS, sat.Errors
			entry["saturation"] = sat.raw
		}
		rates := map[string]any{}
		for load, r := range byLoad {
			if load != "sat" {
				rates[load] = r.raw
			}
		}
		entry["rates"] = rates
		rep[c] = entry
	}
	rep["ratios"] = ratios(rs)
	return rep
}

// ratios compares the configs; a figure whose inputs are missing or failed is left out.
func ratios(rs results) map[string]any {
	out := map[string]any{
		"goal_bulwark_over_nginx_saturation_rps_min": goalThroughputRatio,
		"goal_bulwark_added_p99_ms_at_1000_max":      goalAddedP99MS,
	}
	if b, n, ok := pair(rs, "bulwark", "nginx", "sat"); ok && n.RPS > 0 {
		r := round3(b.RPS / n.RPS)
		out["bulwark_over_nginx_saturation_rps"] = r
		out["throughput_goal_met"] = r >= goalThroughputRatio
		// Server CPU per request does not depend on how the cores were shared with the load
		// generator: the steadier comparison on one machine.
		if b.CPU != nil && n.CPU != nil && n.CPU.ServerUSPerRq > 0 {
			out["bulwark_over_nginx_server_cpu_per_request"] = round3(b.CPU.ServerUSPerRq / n.CPU.ServerUSPerRq)
		}
	}
	for _, c := range []string{"bulwark", "nginx"} {
		if x, d, ok := pair(rs, c, "direct", goalRate); ok {
			added := round3(x.P99MS - d.P99MS)
			out[c+"_added_p99_ms_at_1000"] = added
			if c == "bulwark" {
				out["latency_goal_met"] = added <= goalAddedP99MS
			}
		}
	}
	return out
}

// pair returns the results of configs a and b at load, if both ran without errors.
func pair(rs results, a, b, load string) (result, result, bool) {
	ra, okA := rs[a][load]
	rb, okB := rs[b][load]
	return ra, rb, okA && okB && ra.Errors == 0 && rb.Errors == 0
}

func printTable(w io.Writer, rs results, rep map[string]any) {
	meta := rep["meta"].(map[string]any)
	fmt.Fprintf(w, "\nBulwark benchmark — %v run, %v CPUs, %v, commit %v\n", meta["mode"], meta["nproc"], meta["go_version"], meta["git_commit"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tload\tproto\trps\tp50 ms\tp99 ms\terrors\tserver cores\tloadgen cores\tother cores\tserver µs/req\t")
	noisy := false
	for _, c := range configs {
		for _, load := range loads(rs[c]) {
			r := rs[c][load]
			label := load + "/s"
			if load == "sat" {
				label = "saturation"
			}
			proto := r.Proto
			if r.TLS != "" {
				proto += " " + r.TLS
			}
			errs := strconv.Itoa(r.Errors)
			if r.Errors > 0 {
				errs += fmt.Sprintf(" %v", r.ErrorKinds)
			}
			cpu := "\t\t\t"
			if r.CPU != nil {
				cpu = fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.0f", r.CPU.Server, r.CPU.Loadgen, r.CPU.Other, r.CPU.ServerUSPerRq)
				if r.CPU.Other > noisyOtherCores {
					cpu += " !"
					noisy = true
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.3f\t%.3f\t%s\t%s\t\n", c, label, proto, r.RPS, r.P50MS, r.P99MS, errs, cpu)
		}
	}
	tw.Flush()
	if noisy {
		fmt.Fprintf(w, "  ! other processes used more than %g cores during this run: its figures are disturbed; rerun on a quiet machine\n", noisyOtherCores)
	}
	ra := rep["ratios"].(map[string]any)
	fmt.Fprintln(w)
	line := func(label, key, unit string, goal string, metKey string) {
		v, ok := ra[key]
		if !ok {
			fmt.Fprintf(w, "  %-42s n/a (a run is missing or had errors)\n", label)
			return
		}
		verdict := ""
		if met, ok := ra[metKey].(bool); ok {
			verdict = map[bool]string{true: "  met", false: "  NOT met"}[met]
		}
		fmt.Fprintf(w, "  %-42s %v%s%s%s\n", label, v, unit, goal, verdict)
	}
	line("bulwark / nginx saturation throughput", "bulwark_over_nginx_saturation_rps", "", fmt.Sprintf("   (goal ≥ %g)", goalThroughputRatio), "throughput_goal_met")
	line("bulwark p99 − direct p99 at 1000/s", "bulwark_added_p99_ms_at_1000", " ms", fmt.Sprintf("   (goal ≤ %g ms)", goalAddedP99MS), "latency_goal_met")
	line("nginx p99 − direct p99 at 1000/s", "nginx_added_p99_ms_at_1000", " ms", "", "")
	line("bulwark / nginx server CPU per request", "bulwark_over_nginx_server_cpu_per_request", "", "   (saturation; both include the app)", "")
	fmt.Fprintf(w, "\nNote: %s.\n", meta["load_generator"])
}

// loads orders a config's runs: fixed rates ascending, then saturation.
func loads(m map[string]result) []string {
	var ls []string
	for l := range m {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b string) int {
		fa, errA := strconv.ParseFloat(a, 64)
		fb, errB := strconv.ParseFloat(b, 64)
		switch {
		case errA != nil && errB != nil:
			return strings.Compare(a, b)
		case errA != nil:
			return 1
		case errB != nil:
			return -1
		}
		return int(math.Copysign(1, fa-fb))
	})
	return ls
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// noteFlag collects -note key=value pairs.
type noteFlag map[string]string

func (n *noteFlag) String() string { return fmt.Sprint(map[string]string(*n)) }

func (n *noteFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	if *n == nil {
		*n = noteFlag{}
	}
	(*n)[k] = v
	return nil
}
