package bank

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/secrets"
	"github.com/bulwark-security/bulwark/internal/tokenize"
)

// testControl is the control plane's real key manager, token vault and their HTTP APIs, in
// a temp dir; the test mesh names the caller in X-Bulwark-Caller as the sidecar's SVID would.
type testControl struct {
	handler   http.Handler
	keys      *envelope.Manager
	vault     *tokenize.Vault
	auditPath string
}

func newTestControl(t testing.TB, dir string) *testControl {
	t.Helper()
	if err := keys.SecretDir(dir); err != nil {
		t.Fatal(err)
	}
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := envelope.Open(ctx, filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenize.Open(ctx, filepath.Join(dir, "tokens", "tokens.db"), m, []string{tokenize.KindCard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	auditPath := filepath.Join(dir, "audit.jsonl")
	al, err := audit.OpenFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	svc := &tokenize.Service{Vault: v, Audit: al, Grants: config.Tokenization{
		Grants: []config.TokenGrant{{Caller: "payments", Tokenize: []string{"card"}}},
	}}
	caller := func(r *http.Request) (tokenize.Caller, error) {
		id, err := spiffeid.FromString(r.Header.Get(proxy.HeaderCaller))
		if err != nil {
			return tokenize.Caller{}, err
		}
		name, ok := strings.CutPrefix(id.Path(), "/svc/")
		if !ok {
			return tokenize.Caller{}, errors.New("not a service")
		}
		return tokenize.Caller{Service: name, SPIFFEID: id.String()}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/tokens/", tokenize.Handler(svc, caller, testLogger()))
	mux.Handle("/v1/keys/", fieldcrypt.Handler(m, func(r *http.Request) (string, error) {
		c, err := caller(r)
		return c.Service, err
	}, []string{fieldcrypt.Purpose}, testLogger()))
	mux.Handle(secrets.Prefix, newTestSecrets(t, dir, m, al)) // webhook_test.go
	return &testControl{handler: mux, keys: m, vault: v, auditPath: auditPath}
}

// events returns the audit events the control plane recorded.
func (c *testControl) events(t *testing.T) []audit.Event {
	t.Helper()
	f, err := os.Open(c.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
