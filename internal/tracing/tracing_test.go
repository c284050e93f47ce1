package tracing

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	clientTraceID     = "0af7651916cd43dd8448eb211c80319c"
	clientSpanID      = "b7ad6b7169203331"
	clientTraceparent = "00-" + clientTraceID + "-" + clientSpanID + "-01"
)

func newRecorded(t testing.TB, opts ...sdktrace.TracerProviderOption) (*Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithSpanProcessor(rec))...)
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return New(tp), rec
}

// seen is what a handler behind the middleware saw.
type seen struct {
	header  http.Header
	traceID string
}

func serve(t *testing.T, mw func(http.Handler) http.Handler, req *http.Request) seen {
	t.Helper()
	var s seen
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s = seen{header: r.Header.Clone(), traceID: TraceID(r.Context())}
		SetRoute(r.Context(), r.Method, "/api/accounts/**")
		w.WriteHeader(http.StatusTeapot)
	}))
	h.ServeHTTP(httptest.NewRecorder(), req)
	return s
}

func clientRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://bank.example/api/accounts/A-1001?access_token=s3cret", nil)
	r.Header.Set("Traceparent", clientTraceparent)
	r.Header.Set("Tracestate", "evil=1")
	r.Header.Set("Baggage", "user=mallory")
	r.Header.Set("Authorization", "Bearer t0ken")
	r.Header.Set("Cookie", "session=c00kie")
	return r
}

func TestServer(t *testing.T) {
	t.Run("untrusted: a new trace, the client's headers dropped", func(t *testing.T) {
		tr, rec := newRecorded(t)
		s := serve(t, tr.Server(false), clientRequest())
		spans := rec.Ended()
		if len(spans) != 1 {
			t.Fatalf("spans: got %d, want 1", len(spans))
		}
		sp := spans[0]
		if sp.SpanContext().TraceID().String() == clientTraceID || sp.Parent().IsValid() {
			t.Errorf("span continues the client's trace: %v parent %v", sp.SpanContext(), sp.Parent())
		}
		if s.traceID != sp.SpanContext().TraceID().String() {
			t.Errorf("TraceID in the handler: got %q, want the span's %s", s.traceID, sp.SpanContext().TraceID())
		}
		for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
			if v := s.header.Get(k); v != "" {
				t.Errorf("%s still on the request: %q", k, v)
			}
		}
		if sp.Name() != "GET /api/accounts/**" || sp.SpanKind() != trace.SpanKindServer {
			t.Errorf("span: got %v %q, want server GET /api/accounts/**", sp.SpanKind(), sp.Name())
		}
		want := map[attribute.Key]string{
			"http.request.method": "GET", "http.route": "/api/accounts/**", "url.path": "/api/accounts/A-1001",
			"url.scheme": "https", "http.response.status_code": "418",
		}
		got := map[attribute.Key]string{}
		for _, kv := range sp.Attributes() {
			got[kv.Key] = kv.Value.Emit()
			for _, secret := range []string{"s3cret", "t0ken", "c00kie", "mallory", "evil"} {
				if strings.Contains(kv.Value.Emit(), secret) {
					t.Errorf("attribute %s carries %q", kv.Key, kv.Value.Emit())
				}
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("attribute %s: got %q, want %q", k, got[k], v)
			}
		}
	})
	t.Run("trusted: the peer's trace continues", func(t *testing.T) {
		tr, rec := newRecorded(t)
		s := serve(t, tr.Server(true), clientRequest())
		sp := rec.Ended()[0]
		if s.traceID != clientTraceID || sp.Parent().SpanID().String() != clientSpanID || !sp.Parent().IsRemote() {
			t.Errorf("got trace %s parent %v, want trace %s continued from span %s", s.traceID, sp.Parent(), clientTraceID, clientSpanID)
		}
	})
	t.Run("off, untrusted: the client's headers dropped all the same", func(t *testing.T) {
		var off *Tracer
		s := serve(t, off.Server(false), clientRequest())
		if s.traceID != "" || s.header.Get("Traceparent") != "" || s.header.Get("Tracestate") != "" || s.header.Get("Baggage") != "" {
			t.Errorf("got trace id %q and headers %v, want none", s.traceID, s.header)
		}
	})
	t.Run("off, trusted: passed through untouched", func(t *testing.T) {
		var off *Tracer
		s := serve(t, off.Server(true), clientRequest())
		if s.traceID != "" || s.header.Get("Traceparent") != clientTraceparent {
			t.Errorf("got trace id %q, traceparent %q; want none and the peer's", s.traceID, s.header.Get("Traceparent"))
		}
	})
	t.Run("a 5xx is an error, the method is bounded", func(t *testing.T) {
		tr, rec := newRecorded(t)
		h := tr.Server(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			SetRoute(r.Context(), r.Method, "/x")
			w.WriteHeader(http.StatusBadGateway)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("FROBNICATE", "/x", nil))
		sp := rec.Ended()[0]
		if sp.Name() != "_OTHER /x" || sp.Status().Code.String() != "Error" {
			t.Errorf("got %q status %v, want \"_OTHER /x\" and Error", sp.Name(), sp.Status())
		}
	})
}

func TestTransport(t *testing.T) {
	tr, rec := newRecorded(t)
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	client := &http.Client{Transport: tr.Transport(http.DefaultTransport, "ledger")}

	ctx, parent := tr.tracer.Start(t.Context(), "parent")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/balances/A-1?x=1", nil)
	req.Header.Set("Traceparent", clientTraceparent) // stale: must be replaced
	req.Header.Set("Tracestate", "stale=1")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	parent.End()
	if req.Header.Get("Traceparent") != clientTraceparent {
		t.Error("the caller's request was modified")
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("spans: got %d, want 2", len(spans))
	}
	cs := spans[0]
	wantTP := "00-" + cs.SpanContext().TraceID().String() + "-" + cs.SpanContext().SpanID().String() + "-01"
	if got.Get("Traceparent") != wantTP || got.Get("Tracestate") != "" {
		t.Errorf("sent traceparent %q tracestate %q, want %q and none", got.Get("Traceparent"), got.Get("Tracestate"), wantTP)
	}
	if cs.SpanKind() != trace.SpanKindClient || cs.Parent().SpanID() != parent.SpanContext().SpanID() || cs.Name() != "GET" {
		t.Errorf("client span: %v %q parent %v", cs.SpanKind(), cs.Name(), cs.Parent())
	}
	for _, kv := range cs.Attributes() {
		if kv.Key == "server.address" && kv.Value.AsString() != "ledger" {
			t.Errorf("server.address: got %q", kv.Value.AsString())
		}
		if strings.Contains(kv.Value.Emit(), "x=1") {
			t.Errorf("attribute %s carries the query string", kv.Key)
		}
	}
}

// TestOffCostsNothing: with tracing off the middleware and transport are what they wrap,
// or (at the edge) a header delete that allocates nothing.
func TestOffCostsNothing(t *testing.T) {
	var off *Tracer
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { SetRoute(r.Context(), r.Method, "/x") })
	if h := off.Server(true)(next); h == nil || off.Continue(next) == nil {
		t.Fatal("nil handler")
	}
	if off.Transport(http.DefaultTransport, "x") != http.DefaultTransport {
		t.Error("Transport wrapped the base transport with tracing off")
	}
	h := off.Server(false)(next)
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	w := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(1000, func() {
		req.Header["Traceparent"] = nil // a map store, like a client's header
		h.ServeHTTP(w, req)
		_ = TraceID(req.Context())
	})
	if allocs != 0 {
		t.Errorf("tracing off: %v allocations per request, want 0", allocs)
	}
}

func TestBoundPath(t *testing.T) {
	for _, p := range []string{"/a\xff\xfe", strings.Repeat("é", 400), "/ok"} {
		got := boundPath(p)
		if !utf8.ValidString(got) || len(got) > maxPathAttr+3 {
			t.Errorf("boundPath(%q): got %q (%d bytes), want valid UTF-8 within %d", p, got, len(got), maxPathAttr)
		}
	}
}
