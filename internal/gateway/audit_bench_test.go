package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/gctune"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// countingRecorder counts the events it passes to next (nil: drops them, the no-op
// recorder), and times next's Record. Both gateways of BenchmarkAuditOverhead pay the same
// count.
type countingRecorder struct {
	next audit.Recorder
	n    atomic.Int64
	mu   sync.Mutex
	ds   []time.Duration
}

func (c *countingRecorder) Record(ctx context.Context, e audit.Event) error {
	c.n.Add(1)
	if c.next == nil {
		return nil
	}
	t0 := time.Now()
	err := c.next.Record(ctx, e)
	d := time.Since(t0)
	c.mu.Lock()
	c.ds = append(c.ds, d)
	c.mu.Unlock()
	return err
}

// report adds the latency of the audited gateway's Record calls to the results.
func (c *countingRecorder) report(b *testing.B) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ds) == 0 {
		return
	}
	slices.Sort(c.ds)
	q := func(f float64) float64 { return float64(c.ds[int(f*float64(len(c.ds)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "record_p50_µs")
	b.ReportMetric(q(0.99), "record_p99_µs")
}

// BenchmarkAuditOverhead is issue 5's "request-path overhead of auditing": the gateway's
// saturation throughput with the real audit recorder (the tamper-evident log that `up`
// records into, group-committed) against a no-op recorder, in the same run, with the
// garbage collector's target the roles run with (gctune). Two gateways
// run side by side over real sockets (TLS at the edge, mTLS to a real upstream); each
// iteration sends benchAuditRound requests from benchAuditClients keep-alive connections
// to one and then the other, alternating the order, so both see the same machine load. It
// reports each one's requests per second, overhead_% = 100 × (1 − audited/noop) over the
// whole run, overhead_median_% = the median of that ratio over the iterations (each a noop
// and an audited round back to back: a burst of other load on the machine skews one
// iteration, not the figure), the process's CPU time per request in each one's rounds
// (client, gateway and upstream together) and cpu_overhead_% = how much more of it the
// audited rounds took — steadier than throughput on a shared machine — and the p50 and p99 of the audited gateway's Record calls.
//
// route=public is the cheapest request a gateway serves (no credentials), so the audit's
// share of it is the largest; route=authenticated carries an ES256 bearer token that the
// gateway verifies and checks against the route's roles. audit=write and audit=fsync are
// the log with each audit.durability: "write" (the default: the request waits for the
// write, the fsync follows in the background, at most every audit.fsync_interval's
// default) and "fsync" (the request waits for a shared fsync, so the figure depends on how
// many requests are in flight to share it). audit=encode-only only encodes each event and
// drops it: no hash, no write — the least any audit of every request costs, the floor
// against which the other two are read. Each runs with 32 and 256 clients.
func BenchmarkAuditOverhead(b *testing.B) {
	for _, route := range []string{"public", "authenticated"} {
		for _, mode := range []string{"write", "fsync", "encode-only"} {
			for _, clients := range []int{32, 256} {
				b.Run(fmt.Sprintf("route=%s/audit=%s/clients=%d", route, mode, clients), func(b *testing.B) { benchAuditOverhead(b, route, mode, clients) })
			}
		}
	}
}

func benchAuditOverhead(b *testing.B, route, mode string, benchAuditClients int) {
	const benchAuditRound = 1000 // short rounds, alternated: other load on the machine hits both alike
	b.Cleanup(gctune.Apply())    // the collector's target of the roles that serve requests
	h := newHarness(b, harnessOpts{discardLogs: true, noGateway: true})
	path, header := "/public/hello", http.Header{}
	if route == "authenticated" {
		path = "/api/accounts/alice"
		header.Set("Authorization", "Bearer "+h.token("alice", []string{"customer"}, ""))
	}
	start := func(rec audit.Recorder) string {
		return h.start(func(o *Options) { o.Audit = rec }).url + path
	}
	var rec audit.Recorder = encodeOnly{}
	if mode != "encode-only" {
		d, err := audit.ParseDurability(mode)
		if err != nil {
			b.Fatal(err)
		}
		rec = openBenchLog(b, d)
	}
	noop, audited := &countingRecorder{}, &countingRecorder{next: rec}
	urls := map[*countingRecorder]string{noop: start(noop), audited: start(audited)}
	clients := map[*countingRecorder]*http.Client{}
	for rec := range urls {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.ca.Pool()}, MaxIdleConnsPerHost: benchAuditClients,
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}} // HTTP/1.1: one connection per client
		b.Cleanup(tr.CloseIdleConnections)
		clients[rec] = &http.Client{Transport: tr}
	}
	round := func(rec *countingRecorder, n int) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Value
		t0 := time.Now()
		for range benchAuditClients {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					req, err := http.NewRequest(http.MethodGet, urls[rec], nil)
					var resp *http.Response
					if err == nil {
						req.Header = header.Clone()
						resp, err = clients[rec].Do(req)
					}
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							err = errors.New(resp.Status)
						}
					}
					if err != nil {
						failed.Store(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	round(noop, 200) // warm the connections of both
	round(audited, 200)
	noop.n.Store(0)
	audited.n.Store(0)
	audited.ds = nil

	var tNoop, tAudited time.Duration
	var rounds int64
	var cNoop, cAudited time.Duration // CPU time of the process during each one's rounds
	var pairs []float64               // each iteration's overhead, from its two back-to-back rounds
	for b.Loop() {
		var n, a time.Duration
		noopRound := func() { c := cpuTime(b); n = round(noop, benchAuditRound); cNoop += cpuTime(b) - c }
		auditedRound := func() { c := cpuTime(b); a = round(audited, benchAuditRound); cAudited += cpuTime(b) - c }
		if rounds%2 == 0 {
			noopRound()
			auditedRound()
		} else {
			auditedRound()
			noopRound()
		}
		tNoop, tAudited = tNoop+n, tAudited+a
		pairs = append(pairs, 100*(1-n.Seconds()/a.Seconds()))
		rounds++
	}
	want := rounds * benchAuditRound
	if noop.n.Load() != want || audited.n.Load() != want {
		b.Fatalf("audit events: noop %d, audited %d; want one per request (%d)", noop.n.Load(), audited.n.Load(), want)
	}
	audited.report(b)
	noopRate := float64(want) / tNoop.Seconds()
	auditedRate := float64(want) / tAudited.Seconds()
	b.ReportMetric(noopRate, "noop_req/s")
	b.ReportMetric(auditedRate, "audited_req/s")
	b.ReportMetric(100*(1-auditedRate/noopRate), "overhead_%")
	slices.Sort(pairs)
	b.ReportMetric(pairs[len(pairs)/2], "overhead_median_%")
	b.ReportMetric(float64(cNoop.Nanoseconds())/1e3/float64(want), "noop_cpu_µs/req")
	b.ReportMetric(float64(cAudited.Nanoseconds())/1e3/float64(want), "audited_cpu_µs/req")
	b.ReportMetric(100*(cAudited.Seconds()/cNoop.Seconds()-1), "cpu_overhead_%")
}

// cpuTime is the CPU time the process has used (user and system, all threads).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openBenchLog opens a tamper-evident log as `up` does with its config's defaults.
func openBenchLog(b *testing.B, d audit.Durability) *auditlog.Log {
	var syncInterval time.Duration
	if d == audit.DurabilityWrite {
		syncInterval = config.DefaultAuditFsyncInterval
	}
	dir := b.TempDir()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	km, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := auditlog.Open(auditlog.Options{Path: filepath.Join(dir, "audit", "events.jsonl"), Origin: "bank.local/audit", Durability: d, Keys: km, SyncInterval: syncInterval,
		MasterKey: mk, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	return l
}

// encodeOnly encodes each event as the log would and drops it.
type encodeOnly struct{}

var encodedSink atomic.Pointer[[]byte] // keeps the encoding from being optimised away

func (encodeOnly) Record(_ context.Context, e audit.Event) error {
	rec, err := audit.Encode(e, time.Now)
	if err != nil {
		return err
	}
	encodedSink.Store(&rec)
	return nil
}
