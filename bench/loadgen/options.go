package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// options is the command line, validated.
type options struct {
	target      *url.URL
	method      string
	header      http.Header
	caFile      string
	proto       string // "h1" or "h2"
	conns       int
	streams     int // concurrent requests per connection (h2 only)
	rate        float64
	warmup      time.Duration
	duration    time.Duration
	maxRequests int
	timeout     time.Duration
	expect      int
	once        bool
	watch       []int // process groups whose CPU time is reported
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "", "target URL; its host must be a loopback IP (127.0.0.1, ::1)")
	method := fs.String("method", http.MethodGet, "request method (the request has no body)")
	headers := fs.String("headers", "", `file of request headers, one "Name: value" per line`)
	caFile := fs.String("cacert", "", "PEM file of the CA that signed the target's certificate (https)")
	proto := fs.String("proto", "h1", "h1 (HTTP/1.1) or h2 (HTTP/2, https only)")
	conns := fs.Int("conns", 32, "connections (each a keep-alive connection)")
	streams := fs.Int("streams", 1, "concurrent requests per connection (h2 only)")
	rate := fs.Float64("rate", 0, "requests per second, open loop; 0 runs closed loop (saturation)")
	warmup := fs.Duration("warmup", 2*time.Second, "warm-up, excluded from the figures")
	duration := fs.Duration("duration", 10*time.Second, "measured window after the warm-up (at most 10m)")
	maxReq := fs.Int("max-requests", 5_000_000, "hard cap on requests sent, warm-up included")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout; also how long due requests may still be sent after the window")
	expect := fs.Int("expect", http.StatusOK, "the status code that counts as success")
	once := fs.Bool("once", false, "send one request; exit 0 if it gets -expect (a readiness check)")
	watch := fs.String("watch-pgid", "", "process groups (the servers) whose CPU use to report, comma separated")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o := &options{
		method: *method, caFile: *caFile, proto: *proto, conns: *conns, streams: *streams,
		rate: *rate, warmup: *warmup, duration: *duration, maxRequests: *maxReq,
		timeout: *timeout, expect: *expect, once: *once, header: http.Header{},
	}
	var errs []error
	var err error
	if o.watch, err = parsePGIDs(*watch); err != nil {
		errs = append(errs, err)
	}
	u, err := loopbackURL(*rawURL)
	if err != nil {
		errs = append(errs, err)
	}
	o.target = u
	if *headers != "" {
		b, err := os.ReadFile(*headers)
		if err != nil {
			errs = append(errs, fmt.Errorf("-headers: %w", err))
		} else if o.header, err = parseHeaders(b); err != nil {
			errs = append(errs, fmt.Errorf("-headers %s: %w", *headers, err))
		}
	}
	switch {
	case o.proto != "h1" && o.proto != "h2":
		errs = append(errs, fmt.Errorf("-proto %q: want h1 or h2", o.proto))
	case o.proto == "h2" && u != nil && u.Scheme != "https":
		errs = append(errs, errors.New("-proto h2 needs an https URL"))
	case o.proto == "h1" && o.streams != 1:
		errs = append(errs, errors.New("-streams applies to h2 only (HTTP/1.1 has one request in flight per connection)"))
	}
	if o.conns < 1 || o.conns > 1024 {
		errs = append(errs, fmt.Errorf("-conns %d: want 1..1024", o.conns))
	}
	if o.streams < 1 || o.streams > 256 {
		errs = append(errs, fmt.Errorf("-streams %d: want 1..256", o.streams))
	}
	if o.rate < 0 || o.rate > 1_000_000 {
		errs = append(errs, fmt.Errorf("-rate %g: want 0..1000000", o.rate))
	}
	if o.duration <= 0 || o.duration > 10*time.Minute {
		errs = append(errs, fmt.Errorf("-duration %s: want (0, 10m]", o.duration))
	}
	if o.warmup < 0 || o.warmup > time.Minute {
		errs = append(errs, fmt.Errorf("-warmup %s: want [0, 1m]", o.warmup))
	}
	if o.maxRequests < 1 {
		errs = append(errs, fmt.Errorf("-max-requests %d: want at least 1", o.maxRequests))
	}
	if o.timeout <= 0 || o.timeout > time.Minute {
		errs = append(errs, fmt.Errorf("-timeout %s: want (0, 1m]", o.timeout))
	}
	if o.expect < 100 || o.expect > 599 {
		errs = append(errs, fmt.Errorf("-expect %d: not an HTTP status", o.expect))
	}
	return o, errors.Join(errs...)
}

// loopbackURL parses raw and refuses anything but http(s) to a loopback IP literal. Names
// are refused too, even "localhost": what a name resolves to is not the URL's to promise.
func loopbackURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("-url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url %q: want http or https", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("-url %q: credentials in the URL are not supported", raw)
	}
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil || !addr.IsLoopback() {
		return nil, fmt.Errorf("-url %q: refusing a target that is not a loopback IP address", raw)
	}
	return u, nil
}

// checkLoopback is the dialer's last word: whatever the URL said, it connects only to a
// loopback address.
func checkLoopback(network, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("dial %s %s: refusing a non-loopback address", network, address)
	}
	return nil
}

// parseHeaders reads "Name: value" lines; blank lines and lines starting with # are skipped.
func parseHeaders(b []byte) (http.Header, error) {
	h := http.Header{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %d: want \"Name: value\"", n)
		}
		h.Add(name, value)
	}
	return h, sc.Err()
}
