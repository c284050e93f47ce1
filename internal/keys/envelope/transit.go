package envelope

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/cabundle"
)

// TransitOptions name a HashiCorp Vault (or OpenBao) Transit key to use as the master key.
type TransitOptions struct {
	// Address is the server's URL, https://HOST[:PORT] (config allows http:// on loopback).
	Address string
	// Mount is the Transit engine's mount path. Default "transit".
	Mount string
	// KeyName is the Transit key; it must be an AEAD key (aes256-gcm96, aes128-gcm96 or
	// chacha20-poly1305) without key derivation, so that associated data is bound.
	KeyName string
	// TokenFile holds the token. It is read at open, and again when Vault answers 403, so
	// a token that Vault Agent renews into the file is picked up.
	TokenFile string
	// CAFile is a PEM bundle to trust for the server's TLS; empty: the system roots.
	CAFile string
	// Namespace is the Vault Enterprise / OpenBao namespace; empty for none.
	Namespace string
	// Timeout bounds each request, retries included (default 10s).
	Timeout time.Duration
}

// transitMaster is a tink.AEAD on a Vault Transit key: tink-go-hcvault does the requests
// (transit/encrypt and transit/decrypt with associated_data); this type adds the domain,
// readable errors that never hold the token, and the token file's reload.
type transitMaster struct {
	client *vault.Client
	aead   tink.AEAD
	o      TransitOptions
	mu     sync.Mutex // serialises token reloads
}

var _ tink.AEAD = (*transitMaster)(nil)

// VaultTransit returns the Transit key o names as a master key, after checking that it
// works: the key exists and is an AEAD key (when the token may read its configuration),
// and a probe encrypts, decrypts, and does not decrypt under other associated data, so a
// server that ignores associated_data is refused rather than trusted. Nothing is written
// anywhere; an error names the address and key, never the token.
func VaultTransit(ctx context.Context, o TransitOptions) (tink.AEAD, error) {
	if o.Mount == "" {
		o.Mount = "transit"
	}
	o.Mount = strings.Trim(o.Mount, "/")
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	u, err := url.Parse(o.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("vault transit: address: want http(s)://HOST[:PORT]")
	}
	if o.KeyName == "" || strings.ContainsAny(o.KeyName, "/?#") || o.Mount == "" {
		return nil, errors.New("vault transit: want a mount, and a key name without '/', '?' or '#'")
	}
	t := &transitMaster{o: o}
	token, err := t.readToken()
	if err != nil {
		return nil, err
	}
	if t.client, err = newVaultClient(o); err != nil {
		return nil, err
	}
	t.client.SetToken(token)
	if t.aead, err = hcvault.NewAEAD("/"+o.Mount+"/keys/"+o.KeyName, t.client.Logical()); err != nil {
		return nil, fmt.Errorf("vault transit: %w", err)
	}
	if err := t.probe(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// newVaultClient builds the client from o alone: the VAULT_* environment variables that
// vault.DefaultConfig reads (VAULT_SKIP_VERIFY among them) do not apply.
func newVaultClient(o TransitOptions) (*vault.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pool, err := cabundle.Load(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("vault transit: ca_file: %w", err)
		}
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c, err := vault.NewClient(&vault.Config{Address: o.Address, HttpClient: hc, Timeout: o.Timeout,
		MaxRetries: 2, MinRetryWait: 500 * time.Millisecond, MaxRetryWait: time.Second})
	if err != nil {
		return nil, fmt.Errorf("vault transit: client: %w", err)
	}
	if o.Namespace != "" {
		c.SetNamespace(o.Namespace)
	} else {
		c.ClearNamespace() // NewClient reads VAULT_NAMESPACE: the config decides
	}
	return c, nil
}

// maxTokenFile bounds what is read from the token file.
const maxTokenFile = 16 << 10

// readToken reads the token file. Its content never appears in an error.
func (t *transitMaster) readToken() (string, error) {
	f, err := os.Open(t.o.TokenFile)
	if err != nil {
		return "", fmt.Errorf("vault transit: token_file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("vault transit: token_file %s: %w", t.o.TokenFile, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || len(b) > maxTokenFile || strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("vault transit: token_file %s: want one token on one line", t.o.TokenFile)
	}
	return tok, nil
}

func (t *transitMaster) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, errors.New("vault transit: nothing to encrypt") // the master wraps keysets, never nothing
	}
	// The domain, as FileMaster's: a Transit key shared with another application cannot
	// pass its ciphertexts off as Bulwark's KEKs, or the other way round.
	ad := append([]byte(masterDomain), associatedData...)
	return t.call("encrypt", func() ([]byte, error) { return t.aead.Encrypt(plaintext, ad) })
}

func (t *transitMaster) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	ad := append([]byte(masterDomain), associatedData...)
	pt, err := t.call("decrypt", func() ([]byte, error) { return t.aead.Decrypt(ciphertext, ad) })
	if err == nil && len(pt) == 0 {
		// tink-go-hcvault reads a response without a plaintext (a 404 with no body) as the
		// empty plaintext; the master never wrapped one.
		return nil, fmt.Errorf("%w: vault transit %s: decrypt answered no plaintext", ErrMasterUnavailable, t.o.Address)
	}
	return pt, err
}

// call runs one request; on 403 it re-reads the token file and, when it holds another
// token, tries once more with it.
func (t *transitMaster) call(op string, f func() ([]byte, error)) ([]byte, error) {
	out, err := f()
	if statusOf(err) == http.StatusForbidden && t.reloadToken() {
		out, err = f()
	}
	if err != nil {
		return nil, t.explain(op, err)
	}
	return out, nil
}

func (t *transitMaster) reloadToken() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, err := t.readToken()
	if err != nil || tok == t.client.Token() {
		return false
	}
	t.client.SetToken(tok)
	return true
}

// String names the key, never the token.
func (t *transitMaster) String() string {
	return fmt.Sprintf("VaultTransit(%s %s)", t.o.Address, t.keyPath())
}

// GoString keeps %#v from printing the client.
func (t *transitMaster) GoString() string { return t.String() }

func (t *transitMaster) keyPath() string { return t.o.Mount + "/keys/" + t.o.KeyName }
