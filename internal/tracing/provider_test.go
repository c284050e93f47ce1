package tracing

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-security/bulwark/internal/config"
)

// collector is an OTLP/HTTP endpoint that decodes each export request's protobuf body.
type collector struct {
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	bad      int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/v1/traces" ||
		r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		c.bad++
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c.requests = append(c.requests, &req)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// TestOTLPExport: NewProvider's spans reach an OTLP/HTTP collector as protobuf, with the
// role as service.name, at the default /v1/traces path; sample_ratio 0 exports nothing but
// still gives requests a trace id.
func TestOTLPExport(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()

	tp, err := NewProvider(t.Context(), config.Tracing{OTLPEndpoint: srv.URL, SampleRatio: 1}, "sidecar/ledger")
	if err != nil {
		t.Fatal(err)
	}
	tr := New(tp)
	h := tr.Server(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), r.Method, "/balances/*")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/balances/A-1001", nil))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil { // flushes the batch
		t.Fatalf("shutdown: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad != 0 || len(c.requests) != 1 {
		t.Fatalf("collector: %d export requests, %d bad; want 1 good", len(c.requests), c.bad)
	}
	rs := c.requests[0].ResourceSpans
	if len(rs) != 1 || len(rs[0].ScopeSpans) != 1 || len(rs[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("export: got %v, want one span", c.requests[0])
	}
	var service string
	for _, kv := range rs[0].Resource.Attributes {
		if kv.Key == "service.name" {
			service = kv.Value.GetStringValue()
		}
	}
	sp := rs[0].ScopeSpans[0].Spans[0]
	if service != "sidecar/ledger" || sp.Name != "GET /balances/*" || len(sp.TraceId) != 16 || hex.EncodeToString(sp.ParentSpanId) != "" {
		t.Errorf("exported: service %q span %q trace %x parent %x", service, sp.Name, sp.TraceId, sp.ParentSpanId)
	}
}

func TestOTLPExportUnsampled(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	tp, err := NewProvider(t.Context(), config.Tracing{OTLPEndpoint: srv.URL, SampleRatio: 0}, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	var id string
	New(tp).Server(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id = TraceID(r.Context())
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(id) != 32 || len(c.requests) != 0 {
		t.Errorf("sample_ratio 0: trace id %q, %d exports; want a trace id and no export", id, len(c.requests))
	}
}

func TestNewProviderOff(t *testing.T) {
	if _, err := NewProvider(t.Context(), config.Tracing{}, "gateway"); err == nil {
		t.Error("NewProvider without an endpoint: got nil error")
	}
}
