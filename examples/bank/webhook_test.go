package bank

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/secrets"
)

// newTestSecrets is the control plane's secret store API with the bank's grant (payments
// reads payments/*) and a random webhook signing key, as `bulwark up` creates it. The test
// mesh names the caller in X-Bulwark-Caller, as the sidecar's SVID would.
func newTestSecrets(t testing.TB, dir string, m *envelope.Manager, al audit.Recorder) http.Handler {
	t.Helper()
	ctx := context.Background()
	store, err := secrets.OpenEmbedded(ctx, filepath.Join(dir, "secrets", "secrets.db"), m, secrets.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if _, err := store.Put(ctx, WebhookKeyPath, map[string]string{"key": base64.StdEncoding.EncodeToString(key)}, secrets.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	hasher, err := secrets.LoadOrCreateHasher(ctx, filepath.Join(dir, "secrets", "audit-hmac.key"), m)
	if err != nil {
		t.Fatal(err)
	}
	pattern, _ := secrets.ParsePattern("payments/*")
	payments := spiffeid.RequireFromSegments(spiffeid.RequireTrustDomainFromString("bank.local"), "svc", "payments")
	return &secrets.API{
		Backend: store, Hasher: hasher, Audit: al, Log: testLogger(),
		Grants: secrets.NewGrants([]secrets.Grant{{ID: payments, Pattern: pattern, Access: []secrets.Access{secrets.Read}, Rule: "services[1].secrets[0]"}}),
		Caller: func(r *http.Request) (spiffeid.ID, error) {
			return spiffeid.FromString(r.Header.Get(proxy.HeaderCaller))
		},
	}
}

// TestPaymentsSignsEventsWithItsSecret: payments fetches the webhook signing key from the
// secret store through its mesh client and signs the event body with it; a service that
// was not granted the key gets 403 and sends nothing.
func TestPaymentsSignsEventsWithItsSecret(t *testing.T) {
	b := newTestBank(t, "payments", "accounts")
	ctx := context.Background()
	body := []byte(`{"type":"payment.posted"}`)
	newReq := func() *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://notifications/events", bytes.NewReader(body))
		return req
	}
	req := newReq()
	if err := b.apps["payments"].signer()(req); err != nil {
		t.Fatalf("payments signing: %v", err)
	}
	key := b.apps["payments"].webhook.key
	if got, want := req.Header.Get(HeaderSignature), SignEvent(key, body); got != want || len(key) != 32 {
		t.Fatalf("signature: got %q, want %q", got, want)
	}
	req = newReq()
	if err := b.apps["accounts"].signer()(req); err == nil || req.Header.Get(HeaderSignature) != "" {
		t.Fatalf("accounts, not granted the key, signed an event: err %v", err)
	}
	var allow, deny int
	for _, e := range b.control.events(t) {
		if e.Kind != audit.KindSecret {
			continue
		}
		switch {
		case e.Outcome == audit.Allow && e.Caller == trustDomain+"/svc/payments":
			allow++
		case e.Outcome == audit.Deny && e.Caller == trustDomain+"/svc/accounts":
			deny++
		}
		if e.PathHMAC == "" || e.Path != "" {
			t.Errorf("secret event without a path HMAC, or with a clear path: %+v", e)
		}
	}
	if allow != 1 || deny != 1 {
		t.Errorf("audit: got %d allowed and %d denied secret reads, want 1 and 1", allow, deny)
	}
}
