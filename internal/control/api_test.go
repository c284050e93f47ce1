package control

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

func TestAPIHandleRefusesBadPrefixes(t *testing.T) {
	for _, p := range []string{"/v1/", "/v1/secrets", "/v2/secrets/", "/oidc/", "secrets/"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", p)
				}
			}()
			NewAPI().Handle(p, http.NotFoundHandler())
		}()
	}
}

// TestRouteKeepsNonV1ForCallers: a workload reaches the /v1/ APIs and nothing else; a
// caller (the gateway) reaches both; an unknown /v1/ path is a JSON 404.
func TestRouteKeepsNonV1ForCallers(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	gw, pay := ca.SVID(t, "gateway"), ca.SVID(t, "payments")
	api := NewAPI()
	api.Handle("/v1/secrets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	s := &Server{
		Callers: []spiffeid.ID{gw.ID}, Workloads: []spiffeid.ID{pay.ID}, API: api,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }),
	}
	if got := s.admitted(); len(got) != 2 {
		t.Fatalf("admitted: got %v, want the gateway and payments", got)
	}
	h := s.route()
	for _, tt := range []struct {
		name string
		as   *tls.ConnectionState
		path string
		want int
	}{
		{"workload to its API", &tls.ConnectionState{PeerCertificates: pay.Certificates}, "/v1/secrets/x", http.StatusOK},
		{"workload to the provider", &tls.ConnectionState{PeerCertificates: pay.Certificates}, "/oidc/token", http.StatusForbidden},
		{"workload to an unknown API", &tls.ConnectionState{PeerCertificates: pay.Certificates}, "/v1/nothing", http.StatusNotFound},
		{"workload, dot segments", &tls.ConnectionState{PeerCertificates: pay.Certificates}, "/v1/secrets/../../oidc/token", http.StatusBadRequest},
		{"gateway to the provider", &tls.ConnectionState{PeerCertificates: gw.Certificates}, "/oidc/token", http.StatusAccepted},
		{"no certificate", nil, "/oidc/token", http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://control"+tt.path, nil)
			r.TLS = tt.as
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.want)
			}
			if w.Code >= 400 {
				var body struct{ Error struct{ Code string } }
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code == "" {
					t.Fatalf("error body is not the JSON error shape: %s", w.Body)
				}
			}
		})
	}
	if got := (&Server{Callers: []spiffeid.ID{gw.ID}, Workloads: []spiffeid.ID{pay.ID}}).admitted(); len(got) != 1 {
		t.Fatalf("without an API, workloads must not be admitted: got %v", got)
	}
}

// TestRouteForwardsTheGatewaysClient: a caller's request (the gateway's) reaches Handler
// with the client address the gateway forwarded for; a workload's X-Forwarded-For is never
// believed.
func TestRouteForwardsTheGatewaysClient(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	gw, pay := ca.SVID(t, "gateway"), ca.SVID(t, "payments")
	var got string
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = proxy.ClientIP(r) })
	api := NewAPI()
	api.Handle("/v1/secrets/", record)
	h := (&Server{Callers: []spiffeid.ID{gw.ID}, Workloads: []spiffeid.ID{pay.ID}, API: api, Handler: record}).route()
	for _, tt := range []struct {
		name string
		as   *x509svid.SVID
		path string
		want string
	}{
		{"gateway to the provider", gw, "/oidc/login", "203.0.113.9"},
		{"workload to its API", pay, "/v1/secrets/x", "192.0.2.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got = ""
			r := httptest.NewRequest("POST", "https://control"+tt.path, nil)
			r.RemoteAddr = "192.0.2.1:5555"
			r.Header.Set("X-Forwarded-For", "203.0.113.9")
			r.TLS = &tls.ConnectionState{PeerCertificates: tt.as.Certificates}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Fatalf("client address = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWorkloadInFlightCap: one workload may have at most MaxInFlight /v1/ requests in
// flight; one more is refused at once with 503 and Retry-After, while another workload is
// still served, and a slot freed is usable again.
func TestWorkloadInFlightCap(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	gw, pay, acc := ca.SVID(t, "gateway"), ca.SVID(t, "payments"), ca.SVID(t, "accounts")
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	api := NewAPI()
	api.Handle("/v1/secrets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/secrets/slow" {
			entered <- struct{}{}
			<-release
		}
	}))
	h := (&Server{Callers: []spiffeid.ID{gw.ID}, Workloads: []spiffeid.ID{pay.ID, acc.ID}, API: api, MaxInFlight: 2,
		Handler: http.NotFoundHandler()}).route()
	call := func(as *x509svid.SVID, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "https://control"+path, nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: as.Certificates}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	done := make(chan int, 2)
	for range 2 {
		go func() { done <- call(pay, "/v1/secrets/slow").Code }()
		<-entered
	}
	if w := call(pay, "/v1/secrets/x"); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("third request of payments: %d, Retry-After %q; want 503 with Retry-After 1", w.Code, w.Header().Get("Retry-After"))
	}
	if w := call(acc, "/v1/secrets/x"); w.Code != http.StatusOK {
		t.Fatalf("accounts while payments is at its cap: %d, want 200", w.Code)
	}
	close(release)
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Fatalf("held request: %d, want 200", code)
		}
	}
	if w := call(pay, "/v1/secrets/x"); w.Code != http.StatusOK {
		t.Fatalf("payments after its requests ended: %d, want 200", w.Code)
	}
}

// TestDefaultMaxInFlightIsASidecarsCap: the default is what one sidecar may have in flight
// to the control plane, so a single replica never meets it.
func TestDefaultMaxInFlightIsASidecarsCap(t *testing.T) {
	if DefaultMaxInFlight != config.DefaultUpstreamConcurrency {
		t.Fatalf("DefaultMaxInFlight %d, want config.DefaultUpstreamConcurrency %d", DefaultMaxInFlight, config.DefaultUpstreamConcurrency)
	}
}
