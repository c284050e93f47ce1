package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/tokenize"
)

// Workload API prefixes of field encryption and tokenization.
const (
	keysAPIPrefix   = "/v1/keys/"
	tokensAPIPrefix = "/v1/tokens/"
)

func (s state) tokensPath() string { return filepath.Join(s.dir, "tokens", "tokens.db") }

// registerDataAPIs serves field encryption (/v1/keys/: each service encrypts with its own
// data key, the service named by its SVID) and tokenization (/v1/tokens/: grants from
// tokenization in bulwark.yaml) on the control plane's workload API.
func registerDataAPIs(ctx context.Context, c *controlAPIs, cfg *config.Config, st state, km *envelope.Manager, rec audit.Recorder, log *slog.Logger) error {
	vault, err := tokenize.Open(ctx, st.tokensPath(), km, cfg.Tokenization.KeepLast4)
	if err != nil {
		return err
	}
	c.closers = append(c.closers, vault.Close)
	caller := tokenize.PeerCaller(cfg.TD)
	svc := &tokenize.Service{Vault: vault, Grants: cfg.Tokenization, Audit: rec}
	c.api.Handle(tokensAPIPrefix, tokenize.Handler(svc, caller, log.With("component", "tokens")))
	c.api.Handle(keysAPIPrefix, fieldcrypt.Handler(km, func(r *http.Request) (string, error) {
		cl, err := caller(r)
		if err != nil {
			return "", fmt.Errorf("keys api caller: %w", err)
		}
		return cl.Service, nil
	}, []string{fieldcrypt.Purpose}, log.With("component", "keys")))
	return nil
}
