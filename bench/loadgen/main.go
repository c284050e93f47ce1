// Command loadgen is the load generator of Bulwark's benchmark (bench/run). It sends one
// request, over and over, to a loopback URL and prints one JSON object: throughput, exact
// latency percentiles from every recorded sample, and errors by kind.
//
//	loadgen -url https://127.0.0.1:8443/api/accounts/A-1001 -cacert ca.pem -headers h.txt \
//	        -conns 32 -rate 1000 -warmup 2s -duration 8s
//
// With -rate it runs open loop: request i is due at start + i/rate whatever the server does,
// and its latency is measured from that due time, so a slow server cannot lower the offered
// load or hide its queueing (no coordinated omission). Without -rate it runs closed loop:
// every connection sends its next request as soon as the previous one answers (saturation).
// Requests of the warm-up period are sent but left out of the figures.
//
// It refuses any target that is not a loopback IP address and dials nothing else, since it
// is built to overload what it points at. Headers come from a file (-headers), so a bearer
// token never appears in a process listing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	senders, err := newSenders(o)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if o.once {
		res := senders[0](ctx)
		if kind := res.kind(o.expect); kind != "" {
			fmt.Fprintf(stderr, "loadgen: %s %s: %s\n", o.method, o.target, res.describe(kind))
			return 1
		}
		return 0
	}
	// CPU use is sampled over the measured window: from the end of the warm-up to the end.
	windowStart := make(chan cpuSnapshot, 1)
	timer := time.AfterFunc(o.warmup, func() { windowStart <- takeCPUSnapshot(o.watch) })
	defer timer.Stop()
	var rep report
	if o.rate > 0 {
		rep = runOpen(ctx, senders, o.plan())
	} else {
		rep = runClosed(ctx, senders, o.plan())
	}
	out := summarize(o, rep)
	select {
	case before := <-windowStart:
		out.CPU = cpuBetween(before, takeCPUSnapshot(o.watch), len(o.watch) > 0, out.OK)
	default:
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	if ctx.Err() != nil {
		return 130
	}
	return 0
}

// plan is the timing of one run, shared by the open- and closed-loop drivers.
type plan struct {
	rate        float64       // requests per second (open loop only)
	warmup      time.Duration // sent, not counted
	duration    time.Duration // the measured window, after the warm-up
	maxRequests int           // hard cap on requests sent, warm-up included
	drain       time.Duration // how long after the window due requests may still be sent
	expect      int           // the status that counts as success
}

func (o *options) plan() plan {
	return plan{rate: o.rate, warmup: o.warmup, duration: o.duration, maxRequests: o.maxRequests, drain: o.timeout, expect: o.expect}
}
