package fieldcrypt

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// countingTransport wraps a real transport and counts the requests sent through it.
type countingTransport struct {
	http.RoundTripper
	n atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

// keysAPI serves Handler(m) on the control-plane server over real mTLS and returns a
// client for a service's SVID, with the transport that counts its requests.
func keysAPI(t *testing.T, m *envelope.Manager) func(service string) (Client, *countingTransport) {
	t.Helper()
	return keysAPIFor(t, m)
}

func keysAPIFor(t testing.TB, m *envelope.Manager) func(service string) (Client, *countingTransport) {
	t.Helper()
	ca := testpki.New(t, "bank.local")
	api := control.NewAPI()
	api.Handle("/v1/keys/", Handler(m, func(r *http.Request) (string, error) {
		id, err := control.PeerID(r)
		if err != nil {
			return "", err
		}
		return strings.TrimPrefix(id.Path(), "/svc/"), nil
	}, []string{Purpose}, slog.New(slog.DiscardHandler)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrl := ca.SVID(t, "control")
	srv := &control.Server{Listener: ln, SVID: ctrl, Bundle: ca.Bundle(), Log: slog.New(slog.DiscardHandler),
		Callers: []spiffeid.ID{spiffeid.RequireFromSegments(ca.TD, "svc", "gateway")}, Handler: http.NotFoundHandler(),
		Workloads: []spiffeid.ID{spiffeid.RequireFromSegments(ca.TD, "svc", "accounts"), spiffeid.RequireFromSegments(ca.TD, "svc", "payments")},
		API:       api}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return func(service string) (Client, *countingTransport) {
		var svid *x509svid.SVID = ca.SVID(t, service)
		ct := &countingTransport{RoundTripper: &http.Transport{TLSClientConfig: identity.ClientTLS(svid, ca.Bundle(), ctrl.ID)}}
		return Client{HTTP: &http.Client{Timeout: 10 * time.Second, Transport: ct}, BaseURL: "https://" + ln.Addr().String()}, ct
	}
}

// TestBatchOneRoundTripEachFieldBound seals and opens a record's three fields in one call
// each, and checks that the batch keeps every field bound to its own column, record and
// service, all or nothing.
func TestBatchOneRoundTripEachFieldBound(t *testing.T) {
	m := openManager(t)
	client := keysAPI(t, m)
	ctx := context.Background()
	c, calls := client("accounts")
	f := Fields{Keys: c}
	name, email, nid := "Alice Example", "alice@example.com", "ZZ-123-45-6789"
	rec := func() []Field {
		return []Field{{Column: "name", Value: &name}, {Column: "email", Value: &email}, {Column: "national_id", Value: &nid}}
	}
	if err := f.SealAll(ctx, "accounts", "A-1001", rec()...); err != nil {
		t.Fatal(err)
	}
	if got := calls.n.Load(); got != 1 {
		t.Errorf("SealAll of 3 fields made %d requests, want 1", got)
	}
	for _, v := range []string{name, email, nid} {
		if !IsSealed(v) || strings.Contains(v, "alice") || strings.Contains(v, "6789") {
			t.Fatalf("sealed value %q", v)
		}
	}
	sealedName, sealedEmail, sealedNID := name, email, nid
	// Each sealed field opens one at a time with the single-field API: the batch bound it
	// exactly as Seal would.
	if got, err := f.Open(ctx, "accounts", "email", "A-1001", email); err != nil || got != "alice@example.com" {
		t.Fatalf("single Open of a batch-sealed field = %q, %v", got, err)
	}
	calls.n.Store(0)
	if err := f.OpenAll(ctx, "accounts", "A-1001", rec()...); err != nil {
		t.Fatal(err)
	}
	if got := calls.n.Load(); got != 1 {
		t.Errorf("OpenAll of 3 fields made %d requests, want 1", got)
	}
	if name != "Alice Example" || email != "alice@example.com" || nid != "ZZ-123-45-6789" {
		t.Errorf("opened %q %q %q", name, email, nid)
	}

	reset := func() { name, email, nid = sealedName, sealedEmail, sealedNID }
	payments, _ := client("payments")
	for _, tc := range []struct {
		name  string
		setup func()
		open  func() error
		want  error
	}{
		{"swapped columns", func() { name, email = sealedEmail, sealedName },
			func() error { return f.OpenAll(ctx, "accounts", "A-1001", rec()...) }, ErrDecrypt},
		{"other record", func() {}, func() error { return f.OpenAll(ctx, "accounts", "A-1002", rec()...) }, ErrDecrypt},
		{"other service", func() {}, func() error { return Fields{Keys: payments}.OpenAll(ctx, "accounts", "A-1001", rec()...) }, ErrDecrypt},
		{"one clear value", func() { nid = "ZZ-123-45-6789" },
			func() error { return f.OpenAll(ctx, "accounts", "A-1001", rec()...) }, ErrNotSealed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset()
			tc.setup()
			before := [3]string{name, email, nid}
			if err := tc.open(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after := [3]string{name, email, nid}; after != before {
				t.Errorf("a failed OpenAll changed the values: %q, want %q", after, before)
			}
		})
	}
	big := make([]Item, MaxBatch+1)
	if _, err := c.DecryptBatch(ctx, Purpose, big); err == nil {
		t.Errorf("a batch of %d items was sent", len(big))
	}
}

// TestBatchHandlerRefusesBadBodies answers 400 with a stable code for every malformed batch.
func TestBatchHandlerRefusesBadBodies(t *testing.T) {
	h := Handler(openManager(t), func(*http.Request) (string, error) { return "accounts", nil }, []string{Purpose}, slog.New(slog.DiscardHandler))
	many := `{"purpose":"fields","items":[` + strings.Repeat(`{"data":"eA=="},`, MaxBatch) + `{"data":"eA=="}]}`
	for name, body := range map[string]string{
		"not json":         `{`,
		"no items":         `{"purpose":"fields","items":[]}`,
		"too many items":   many,
		"unknown field":    `{"purpose":"fields","items":[{"data":"eA==","key":"x"}]}`,
		"unknown purpose":  `{"purpose":"secrets","items":[{"data":"eA=="}]}`,
		"two objects":      `{"purpose":"fields","items":[{"data":"eA=="}]}{}`,
		"not a ciphertext": `{"purpose":"fields","items":[{"data":"eA=="}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, DecryptBatchPath, bytes.NewBufferString(body)))
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"code"`) {
				t.Errorf("status %d body %s, want 400 with an error code", rec.Code, rec.Body)
			}
		})
	}
}

// FuzzBatchHandler feeds arbitrary bodies to both batch endpoints: the answer is a 200
// with one item per item sent, or a 4xx — never a 5xx.
func FuzzBatchHandler(f *testing.F) {
	f.Add([]byte(`{"purpose":"fields","items":[{"data":"eA==","associated_data":"YQ=="}]}`), false)
	f.Add([]byte(`{"purpose":"fields","items":[{"data":"AQEAAAAB"}]}`), true)
	f.Add([]byte(`{"purpose":"fields","items":[]}`), true)
	f.Add([]byte(`[]`), false)
	dir := f.TempDir()
	m := openManagerIn(f, dir)
	h := Handler(m, func(*http.Request) (string, error) { return "accounts", nil }, []string{Purpose}, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, body []byte, decrypt bool) {
		path := EncryptBatchPath
		if decrypt {
			path = DecryptBatchPath
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}

func openManagerIn(tb testing.TB, dir string) *envelope.Manager {
	tb.Helper()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
