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
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
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
// records into, group-committed) against a no-op recorder, in the same run. Two gateways
// run side by side over real sockets (TLS at the edge, mTLS to a real upstream); each
// iteration sends benchAuditRound requests from benchAuditClients keep-alive connections
// to one and then the other, alternating the order, so both see the same machine load. It
// reports each one's requests per second, overhead_% = 100 × (1 − audited/noop) over the
// whole run, overhead_median_% = the median of that ratio over the iterations (each a noop
// and an audited round back to back: a burst of other load on the machine skews one
// iteration, not the figure), and the p50 and p99 of the audited gateway's Record calls. It runs with each audit.durability:
// "write" (the default: the request waits for the write, the fsync follows in the
// background, at most every audit.fsync_interval's default) and "fsync" (the request
// waits for a shared fsync, so the figure depends on how many requests are in flight to
// share it), for 32 and 256 clients.
func BenchmarkAuditOverhead(b *testing.B) {
	for _, d := range []audit.Durability{audit.DurabilityWrite, audit.DurabilityFsync} {
		for _, clients := range []int{32, 256} {
			b.Run(fmt.Sprintf("durability=%s/clients=%d", d, clients), func(b *testing.B) { benchAuditOverhead(b, clients, d) })
		}
	}
}

func benchAuditOverhead(b *testing.B, benchAuditClients int, d audit.Durability) {
	const benchAuditRound = 1000 // short rounds, alternated: other load on the machine hits both alike
	h := newHarness(b, harnessOpts{discardLogs: true, noGateway: true})
	start := func(rec audit.Recorder) string {
		return h.start(func(o *Options) { o.Audit = rec }).url + "/public/hello"
	}

	var syncInterval time.Duration // as `up` runs with the config's defaults
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
	noop, audited := &countingRecorder{}, &countingRecorder{next: l}
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
					resp, err := clients[rec].Get(urls[rec])
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
	var pairs []float64 // each iteration's overhead, from its two back-to-back rounds
	for b.Loop() {
		var n, a time.Duration
		if rounds%2 == 0 {
			n = round(noop, benchAuditRound)
			a = round(audited, benchAuditRound)
		} else {
			a = round(audited, benchAuditRound)
			n = round(noop, benchAuditRound)
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
}
