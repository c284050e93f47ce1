package tracing

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzServer feeds the edge middleware arbitrary methods, paths and trace headers: it never
// panics, an untrusted traceparent never picks the trace id, span names stay in the bounded
// set and every attribute is valid UTF-8 (OTLP's protobuf refuses anything else).
func FuzzServer(f *testing.F) {
	f.Add("GET", "/api/accounts/A-1001", clientTraceparent, "a=b", false)
	f.Add("FROB", "/a\xff", "00-00000000000000000000000000000000-0000000000000000-01", "", true)
	f.Add("GET", "/", "ff-"+clientTraceID+"-"+clientSpanID+"-01-extra", "x=\x00", true)
	f.Add("POST", strings.Repeat("/é", 300), "00-"+clientTraceID+"-"+clientSpanID+"-00", strings.Repeat("k=v,", 40), false)
	f.Fuzz(func(t *testing.T, method, path, traceparent, tracestate string, trusted bool) {
		tr, rec := newRecorded(t)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Method, req.URL.Path = method, path
		req.Header["Traceparent"] = []string{traceparent}
		req.Header["Tracestate"] = []string{tracestate}
		var id string
		tr.Server(trusted)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id = TraceID(r.Context())
			SetRoute(r.Context(), r.Method, "/route")
		})).ServeHTTP(httptest.NewRecorder(), req)
		if !trusted && strings.Contains(traceparent, id) {
			t.Fatalf("untrusted traceparent %q chose trace id %s", traceparent, id)
		}
		spans := rec.Ended()
		sp := spans[len(spans)-1]
		if n := sp.Name(); n != spanMethod(method)+" /route" || (spanMethod(method) == "_OTHER") != (spanMethod(method) != method) {
			t.Fatalf("span name %q for method %q", n, method)
		}
		for _, kv := range sp.Attributes() {
			if !utf8.ValidString(kv.Value.Emit()) {
				t.Fatalf("attribute %s is not valid UTF-8: %q", kv.Key, kv.Value.Emit())
			}
		}
	})
}
