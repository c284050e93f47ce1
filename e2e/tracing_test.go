package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP traces endpoint that decodes every export request, as a
// collector would, and keeps the spans with the service.name of their resource.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []recvSpan
}

type recvSpan struct {
	service string
	*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	o := &otlpReceiver{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export request", http.StatusBadRequest)
			return
		}
		o.mu.Lock()
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					o.spans = append(o.spans, recvSpan{service: service, Span: s})
				}
			}
		}
		o.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(o.Close)
	return o
}

// trace returns the spans of trace id (hex).
func (o *otlpReceiver) trace(id string) []recvSpan {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []recvSpan
	for _, s := range o.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

// all returns every span received so far.
func (o *otlpReceiver) all() []recvSpan {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]recvSpan(nil), o.spans...)
}

// attr returns the string value of the span's attribute key, or "".
func attr(s recvSpan, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// startTracingStack runs a second `bulwark up` whose config exports traces to recv.
func startTracingStack(t *testing.T, recv *otlpReceiver) *reloadStack {
	t.Helper()
	// The SDK's standard variable: export every 100 ms rather than every 5 s.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	dir := t.TempDir()
	s := &reloadStack{cfg: filepath.Join(dir, "bulwark.yaml"), policies: filepath.Join(dir, "policies"), state: filepath.Join(dir, "state")}
	if err := writeTestConfig(s.cfg, env.echo.URL); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(s.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\ntracing:\n  otlp_endpoint: " + recv.URL + "\n")
	if cerr := f.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	p, err := startUp(s.cfg, s.state)
	if err != nil {
		t.Fatal(err)
	}
	s.up = p
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v\nstderr: %s", err, tail(p.Stderr()))
		}
	})
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(s.state, "endpoints.json"))), &s.ep); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, s.ep.CABundle))) {
		t.Fatal("ca_bundle holds no certificate")
	}
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return s
}

// TestThreeHopTrace sends GET /api/accounts/A-1001/balance (gateway → accounts sidecar →
// accounts app → ledger sidecar → ledger app) with a client-chosen traceparent, and checks
// that the OTLP collector receives one trace of linked spans from all three roles, that
// the client's trace id was not trusted, and that every hop's audit event and the access
// log carry the trace id.
func TestThreeHopTrace(t *testing.T) {
	recv := newOTLPReceiver(t)
	s := startTracingStack(t, recv)
	alice := s.token(t, "alice")
	const clientTrace = "0af7651916cd43dd8448eb211c80319c"
	req, _ := http.NewRequest(http.MethodGet, s.ep.Gateway+"/api/accounts/A-1001/balance", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Traceparent", "00-"+clientTrace+"-b7ad6b7169203331-01")
	req.Header.Set("Tracestate", "evil=1")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusOK || reqID == "" {
		t.Fatalf("balance: got %d (request id %q), want 200", resp.StatusCode, reqID)
	}

	// The gateway's server span for this request names the trace.
	var traceID string
	deadline := time.Now().Add(10 * time.Second)
	for traceID == "" || len(recv.trace(traceID)) < 7 {
		if time.Now().After(deadline) {
			t.Fatalf("within 10 s: trace %q has %d spans, want 7\nstderr: %s", traceID, len(recv.trace(traceID)), tail(s.up.Stderr()))
		}
		time.Sleep(50 * time.Millisecond)
		for _, sp := range recv.all() {
			if sp.service == "gateway" && sp.Kind == tracepb.Span_SPAN_KIND_SERVER && attr(sp, "bulwark.request_id") == reqID {
				traceID = hex.EncodeToString(sp.TraceId)
			}
		}
	}
	if traceID == clientTrace {
		t.Fatal("the gateway continued the client's trace id; it must start its own by default")
	}
	for _, sp := range recv.all() {
		if hex.EncodeToString(sp.TraceId) == clientTrace || sp.TraceState != "" {
			t.Errorf("span %q carries the client's trace context (trace %x, tracestate %q)", sp.Name, sp.TraceId, sp.TraceState)
		}
	}

	// One trace, one root, every other span's parent in it: the hops are linked.
	spans := recv.trace(traceID)
	byID := map[string]recvSpan{}
	for _, sp := range spans {
		byID[hex.EncodeToString(sp.SpanId)] = sp
	}
	var chain []string
	for _, sp := range spans {
		parent := hex.EncodeToString(sp.ParentSpanId)
		if len(sp.ParentSpanId) == 0 {
			if sp.service != "gateway" || sp.Name != "GET /api/accounts/**" {
				t.Errorf("root span: got %s %q, want the gateway's GET /api/accounts/**", sp.service, sp.Name)
			}
			continue
		}
		if _, ok := byID[parent]; !ok {
			t.Errorf("span %s %q: parent %s is not in the trace", sp.service, sp.Name, parent)
		}
	}
	// The ledger app's span descends, hop by hop, from the gateway's root.
	for _, sp := range spans {
		if sp.service == "sidecar/ledger" && sp.Kind == tracepb.Span_SPAN_KIND_CLIENT {
			for cur, ok := sp, true; ok; cur, ok = byID[hex.EncodeToString(cur.ParentSpanId)] {
				chain = append([]string{cur.service + " " + cur.Kind.String() + " " + attr(cur, "server.address")}, chain...)
			}
		}
	}
	want := []string{
		"gateway SPAN_KIND_SERVER ",
		"gateway SPAN_KIND_CLIENT accounts",
		"sidecar/accounts SPAN_KIND_SERVER ",
		"sidecar/accounts SPAN_KIND_CLIENT accounts",
		"sidecar/accounts SPAN_KIND_CLIENT ledger",
		"sidecar/ledger SPAN_KIND_SERVER ",
		"sidecar/ledger SPAN_KIND_CLIENT ledger",
	}
	if strings.Join(chain, "\n") != strings.Join(want, "\n") {
		t.Errorf("ancestry of the ledger app call:\n got %q\nwant %q", chain, want)
	}

	// No span carries the token, and no attribute a header value.
	for _, sp := range spans {
		b, _ := protojson.Marshal(sp.Span)
		if strings.Contains(string(b), alice) || strings.Contains(strings.ToLower(string(b)), "authorization") {
			t.Errorf("span %q carries the token or an Authorization header", sp.Name)
		}
	}

	// Every hop's audit event, and the gateway's access log line, carry the trace id.
	for _, component := range []string{"gateway", "sidecar/accounts", "sidecar/ledger"} {
		evs := s.audit(t, `"request_id":"`+reqID+`"`, `"component":"`+component+`"`, `"kind":"authz"`)
		if len(evs) != 1 || evs[0]["trace_id"] != traceID {
			t.Errorf("%s audit events of request %s: got %v, want one with trace_id %s", component, reqID, evs, traceID)
		}
	}
	if !strings.Contains(s.up.Stderr(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("no access log line carries trace_id %s", traceID)
	}
}
