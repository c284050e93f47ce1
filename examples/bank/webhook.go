package bank

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// WebhookKeyPath is the secret payments signs its notification events with. bulwark.yaml
// grants payments (and no other service) read access to it; `bulwark up` creates it.
const WebhookKeyPath = "payments/webhook-signing-key"

// HeaderSignature carries "sha256=<hex>", the HMAC-SHA256 of an event's body under the
// webhook signing key, so the receiver can tell payments' events from forged ones.
const HeaderSignature = "X-Bank-Signature"

// webhookSigner fetches the signing key from the control plane's secret store (through the
// sidecar, as http://bulwark/v1/secrets/…) on first use and keeps it in memory only. A
// failed fetch is retried on the next event; an event is never sent unsigned.
type webhookSigner struct {
	mu  sync.Mutex
	key []byte
}

func (s *webhookSigner) fetch(req *http.Request, mesh *http.Client) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	if mesh == nil {
		return nil, errors.New("webhook signing key: no mesh client")
	}
	get, err := http.NewRequestWithContext(req.Context(), http.MethodGet, controlURL+"/v1/secrets/"+WebhookKeyPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := mesh.Do(get)
	if err != nil {
		return nil, fmt.Errorf("webhook signing key: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("webhook signing key: the secret store answered %d", resp.StatusCode)
	}
	var body struct {
		Data struct {
			Key string `json:"key"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return nil, errors.New("webhook signing key: malformed answer")
	}
	key, err := base64.StdEncoding.DecodeString(body.Data.Key)
	if err != nil || len(key) < 32 {
		return nil, errors.New("webhook signing key: want a base64 key of at least 32 bytes")
	}
	s.key = key
	return key, nil
}

// signer returns a request option (see App.call) that signs the request's body.
func (a *App) signer() func(*http.Request) error {
	return func(req *http.Request) error {
		key, err := a.webhook.fetch(req, a.mesh)
		if err != nil {
			return err
		}
		if req.GetBody == nil {
			return errors.New("sign event: request body cannot be re-read")
		}
		rc, err := req.GetBody()
		if err != nil {
			return err
		}
		defer rc.Close()
		body, err := io.ReadAll(rc)
		if err != nil {
			return err
		}
		req.Header.Set(HeaderSignature, SignEvent(key, body))
		return nil
	}
}

// SignEvent returns the HeaderSignature value for body.
func SignEvent(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
