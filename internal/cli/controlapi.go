package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/reload"
	"github.com/bulwark-security/bulwark/internal/secrets"
)

func (s state) secretsDir() string { return filepath.Join(s.dir, "secrets") }

// controlAPIs are the control plane's workload APIs, served under /v1/ to every service's
// sidecar (control.API). Each API authorizes the caller's SPIFFE ID itself and audits.
type controlAPIs struct {
	api        *control.API
	secrets    secrets.Backend
	secretsAPI *secrets.API
	keys       *envelope.Manager // the key manager, also for the OIDC signing key
	closers    []func() error
	parts      []part // background work of the APIs (the postgres credential reaper)
}

func (c *controlAPIs) Close() error {
	for i := len(c.closers) - 1; i >= 0; i-- {
		_ = c.closers[i]()
	}
	return nil
}

// newControlAPIs opens the secret store and registers every workload API. To add one,
// register it here with one line, e.g. c.api.Handle("/v1/tokens/", tokensAPI).
//
// km is the process's key manager (openStateKeys): newControlAPIs attaches rec as its
// audit hook first, which records the key events held since the process opened it.
func newControlAPIs(ctx context.Context, cfg *config.Config, st state, km *envelope.Manager, rec audit.Recorder, log *slog.Logger) (*controlAPIs, error) {
	c := &controlAPIs{api: control.NewAPI()}
	km.SetOnEvent(keyEventsHook(ctx, rec, "control", log)) // controlkeys.go
	c.keys = km
	backend, err := openSecretBackend(ctx, cfg, st, km)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, backend.Close)
	c.secrets = backend
	hasher, err := secrets.LoadOrCreateHasher(ctx, filepath.Join(st.secretsDir(), "audit-hmac.key"), km)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.secretsAPI = &secrets.API{
		Backend: backend, Grants: secrets.NewGrants(cfg.SecretGrants()), Hasher: hasher,
		Audit: rec, FailOpen: cfg.Audit.UnsafeFailOpen, Log: log.With("component", "secrets"),
	}
	c.api.Handle(secrets.Prefix, c.secretsAPI)
	if err := registerDataAPIs(ctx, c, cfg, st, km, rec, log); err != nil { // tokens and field keys (dataprotect.go)
		c.Close()
		return nil, err
	}
	if err := registerDBCreds(ctx, c, cfg, rec, log); err != nil { // per-service postgres credentials (dbcreds.go)
		c.Close()
		return nil, err
	}
	return c, nil
}

// openSecretBackend opens the backend secret_store names.
func openSecretBackend(ctx context.Context, cfg *config.Config, st state, km *envelope.Manager) (secrets.Backend, error) {
	sc := cfg.SecretStore
	switch sc.Backend {
	case config.SecretBackendVault:
		tok, err := os.ReadFile(sc.Vault.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("secret_store.vault.token_file: %w", err)
		}
		b, err := secrets.OpenVault(secrets.VaultOptions{Address: sc.Vault.Address, Mount: sc.Vault.Mount,
			Token: strings.TrimSpace(string(tok)), CACert: sc.Vault.CAFile, Namespace: sc.Vault.Namespace})
		if err != nil {
			return nil, err
		}
		return b, nil
	default:
		return secrets.OpenEmbedded(ctx, filepath.Join(st.secretsDir(), "secrets.db"), km, secrets.EmbeddedOptions{MaxVersions: sc.MaxVersions})
	}
}

// serviceIDs are the SPIFFE IDs of every configured service: the workloads that may reach
// the control plane's /v1/ APIs.
func serviceIDs(cfg *config.Config) []spiffeid.ID {
	ids := make([]spiffeid.ID, 0, len(cfg.Services))
	for _, s := range cfg.Services {
		ids = append(ids, s.ID)
	}
	return ids
}

// gatewayOnlyNotFound is the control plane's non-/v1/ handler without the embedded
// identity provider: nothing is served there.
func gatewayOnlyNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "not found")
	})
}

// BankWebhookKeyPath is the secret the bank's payments service signs its notification
// events with; `up` creates it (a random key) when missing, and bulwark.yaml grants
// payments, and only payments, read access.
const BankWebhookKeyPath = "payments/webhook-signing-key"

// seedBankSecrets creates the bank's demo secrets that do not exist yet. A secret that
// exists is left as it is (check-and-set 0), so an operator's value is never replaced.
func seedBankSecrets(ctx context.Context, b secrets.Backend) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	_, err := b.Put(ctx, BankWebhookKeyPath, map[string]string{"key": base64.StdEncoding.EncodeToString(key)}, secrets.WriteOptions{CAS: new(int)})
	if err != nil && !errors.Is(err, secrets.ErrCASMismatch) {
		return fmt.Errorf("seed bank secrets: %w", err)
	}
	return nil
}

// reloadTarget applies a reloaded config's secret grants (services[].secrets) and
// audit.unsafe_fail_open to the secret store API, so a grant is revoked without a restart.
func (c *controlAPIs) reloadTarget() reload.Target { return secretGrantsTarget{c.secretsAPI} }

type secretGrantsTarget struct{ api *secrets.API }

func (t secretGrantsTarget) Prepare(cfg *config.Config, _ *authz.Engine) (func(), error) {
	g := secrets.NewGrants(cfg.SecretGrants())
	failOpen := cfg.Audit.UnsafeFailOpen
	return func() { t.api.SetPolicy(g, failOpen) }, nil
}
