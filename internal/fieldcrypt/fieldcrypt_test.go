package fieldcrypt

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
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

func openManager(t *testing.T) *envelope.Manager {
	t.Helper()
	dir := t.TempDir()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFieldsBoundToServiceTableColumnAndRecord(t *testing.T) {
	m := openManager(t)
	ctx := context.Background()
	f := Fields{Keys: Local{Manager: m, Service: "accounts"}}
	sealed, err := f.Seal(ctx, "accounts", "national_id", "A-1001", "ZZ-123-45-6789")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || strings.Contains(sealed, "6789") {
		t.Fatalf("sealed = %q, want an fc1. value without the clear text", sealed)
	}
	if got, err := f.Open(ctx, "accounts", "national_id", "A-1001", sealed); err != nil || got != "ZZ-123-45-6789" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, open := range map[string]func() (string, error){
		"other record": func() (string, error) { return f.Open(ctx, "accounts", "national_id", "A-1002", sealed) },
		"other column": func() (string, error) { return f.Open(ctx, "accounts", "email", "A-1001", sealed) },
		"other table":  func() (string, error) { return f.Open(ctx, "profiles", "national_id", "A-1001", sealed) },
		"other service": func() (string, error) {
			return Fields{Keys: Local{Manager: m, Service: "payments"}}.Open(ctx, "accounts", "national_id", "A-1001", sealed)
		},
		"ambiguous ad": func() (string, error) { return f.Open(ctx, "accounts", "national_i", "dA-1001", sealed) },
		"tampered": func() (string, error) {
			return f.Open(ctx, "accounts", "national_id", "A-1001", sealed[:len(sealed)-2]+"AA")
		},
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: opened as %q, want an error", name, got)
		}
	}
	if _, err := f.Open(ctx, "accounts", "name", "A-1001", "Alice Example"); !errors.Is(err, ErrNotSealed) {
		t.Errorf("clear value: %v, want ErrNotSealed", err)
	}
}

// TestClientOverMTLS runs the keys API on the control-plane server over real mTLS: each
// service gets its own data key, chosen by its SVID, whatever it asks.
func TestClientOverMTLS(t *testing.T) {
	m := openManager(t)
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
	client := func(svid *x509svid.SVID) Fields {
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: identity.ClientTLS(svid, ca.Bundle(), ctrl.ID)}}
		return Fields{Keys: Client{HTTP: hc, BaseURL: "https://" + ln.Addr().String()}}
	}
	accounts, payments := client(ca.SVID(t, "accounts")), client(ca.SVID(t, "payments"))

	sealed, err := accounts.Seal(ctx, "accounts", "email", "A-1001", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := accounts.Open(ctx, "accounts", "email", "A-1001", sealed); err != nil || got != "alice@example.com" {
		t.Errorf("accounts opens its own field: %q, %v", got, err)
	}
	// The same key in-process opens it too: the API used accounts' key, not another.
	if got, err := (Fields{Keys: Local{Manager: m, Service: "accounts"}}).Open(ctx, "accounts", "email", "A-1001", sealed); err != nil || got != "alice@example.com" {
		t.Errorf("local open of the API's ciphertext: %q, %v", got, err)
	}
	if got, err := payments.Open(ctx, "accounts", "email", "A-1001", sealed); !errors.Is(err, ErrDecrypt) {
		t.Errorf("payments opens accounts' field: %q, %v; want ErrDecrypt", got, err)
	}
	if _, err := (Client{HTTP: http.DefaultClient, BaseURL: "https://" + ln.Addr().String()}).Encrypt(ctx, Purpose, []byte("x"), nil); err == nil {
		t.Error("a client without an SVID encrypted something")
	}
	if _, err := accounts.Keys.Encrypt(ctx, "secrets", []byte("x"), nil); err == nil {
		t.Error("encrypt with a purpose the API does not serve succeeded")
	}
}
