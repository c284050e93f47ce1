package fieldcrypt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// API paths on the control plane.
const (
	EncryptPath = "/v1/keys/encrypt"
	DecryptPath = "/v1/keys/decrypt"
	// The batch paths take {purpose, items: [{data, associated_data}…]} and answer
	// {items: [{data}…]}, in order: all the sealed fields of a record in one round trip.
	EncryptBatchPath = "/v1/keys/encrypt-batch"
	DecryptBatchPath = "/v1/keys/decrypt-batch"
)

// CodeDecryptFailed answers a ciphertext that does not open for the caller: tampered, moved
// from another record, or another service's.
const CodeDecryptFailed = "decrypt_failed"

// maxRequest bounds a request body: fields are small.
const maxRequest = 256 << 10

// request and answer are the JSON bodies; []byte travels as standard base64.
type request struct {
	Purpose        string `json:"purpose"`
	Data           []byte `json:"data"`
	AssociatedData []byte `json:"associated_data"`
}

type answer struct {
	Data []byte `json:"data"`
}

type batchRequest struct {
	Purpose string `json:"purpose"`
	Items   []Item `json:"items"`
}

type batchAnswer struct {
	Items []answer `json:"items"`
}

// Handler serves EncryptPath and DecryptPath, and their batch forms. caller names the
// authenticated service (from its SVID); the data key used is always that service's, for
// one of purposes. A batch stops at its first failing item and answers only the error.
func Handler(m *envelope.Manager, caller func(*http.Request) (string, error), purposes []string, log *slog.Logger) http.Handler {
	allowed := map[string]bool{}
	for _, p := range purposes {
		allowed[p] = true
	}
	serve := func(decrypt, batch bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			svc, err := caller(r)
			if err != nil {
				proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "only a service of the mesh may use its keys")
				return
			}
			purpose, items, msg := decodeRequest(w, r, batch)
			if msg == "" && !allowed[purpose] {
				msg = "unknown purpose"
			}
			if msg != "" {
				proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, msg)
				return
			}
			out := make([]answer, len(items))
			for i, it := range items {
				if decrypt {
					out[i].Data, err = m.Decrypt(r.Context(), svc, purpose, it.Data, it.AssociatedData)
				} else {
					out[i].Data, err = m.Encrypt(r.Context(), svc, purpose, it.Data, it.AssociatedData)
				}
				if err != nil {
					break
				}
			}
			switch {
			case decrypt && (errors.Is(err, envelope.ErrDecrypt) || errors.Is(err, envelope.ErrMalformed)):
				proxy.WriteError(w, r, http.StatusBadRequest, CodeDecryptFailed, "ciphertext does not open for this service, purpose and associated data")
				return
			case err != nil:
				log.Error("key operation failed", "service", svc, "decrypt", decrypt, "request_id", proxy.RequestIDFrom(r.Context()), "err", err)
				proxy.WriteError(w, r, http.StatusInternalServerError, proxy.CodeInternal, "internal error")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			if batch {
				_ = json.NewEncoder(w).Encode(batchAnswer{Items: out})
			} else {
				_ = json.NewEncoder(w).Encode(out[0])
			}
		})
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+EncryptPath, serve(false, false))
	mux.Handle("POST "+DecryptPath, serve(true, false))
	mux.Handle("POST "+EncryptBatchPath, serve(false, true))
	mux.Handle("POST "+DecryptBatchPath, serve(true, true))
	return mux
}

// decodeRequest reads a single or batch request body as items; msg is the public reason it
// is refused, or "".
func decodeRequest(w http.ResponseWriter, r *http.Request, batch bool) (purpose string, items []Item, msg string) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest))
	dec.DisallowUnknownFields()
	if !batch {
		var req request
		if err := dec.Decode(&req); err != nil || dec.More() {
			return "", nil, "body must be one JSON object {purpose, data, associated_data}"
		}
		return req.Purpose, []Item{{Data: req.Data, AssociatedData: req.AssociatedData}}, ""
	}
	var req batchRequest
	if err := dec.Decode(&req); err != nil || dec.More() {
		return "", nil, "body must be one JSON object {purpose, items: [{data, associated_data}]}"
	}
	if len(req.Items) == 0 || len(req.Items) > MaxBatch {
		return "", nil, fmt.Sprintf("items must hold 1 to %d fields", MaxBatch)
	}
	return req.Purpose, req.Items, ""
}

// Client is Keys over the control plane's API: BaseURL is "http://bulwark" through the
// service's sidecar outbound socket (HTTP's client is bank.MeshClient or the like).
type Client struct {
	HTTP    *http.Client
	BaseURL string
}

var _ BatchKeys = Client{}

// ErrDecrypt is what Client.Decrypt returns when the control plane says the ciphertext
// does not open.
var ErrDecrypt = errors.New("fieldcrypt: ciphertext does not open")

// Encrypt asks the control plane to encrypt with the calling service's data key.
func (c Client) Encrypt(ctx context.Context, purpose string, plaintext, ad []byte) ([]byte, error) {
	return c.do(ctx, EncryptPath, request{Purpose: purpose, Data: plaintext, AssociatedData: ad})
}

// Decrypt asks the control plane to decrypt with the calling service's data key.
func (c Client) Decrypt(ctx context.Context, purpose string, ciphertext, ad []byte) ([]byte, error) {
	return c.do(ctx, DecryptPath, request{Purpose: purpose, Data: ciphertext, AssociatedData: ad})
}

// EncryptBatch encrypts every item in one call to the control plane.
func (c Client) EncryptBatch(ctx context.Context, purpose string, items []Item) ([][]byte, error) {
	return c.doBatch(ctx, EncryptBatchPath, purpose, items)
}

// DecryptBatch decrypts every item in one call to the control plane; if any does not open,
// it returns ErrDecrypt and nothing else.
func (c Client) DecryptBatch(ctx context.Context, purpose string, items []Item) ([][]byte, error) {
	return c.doBatch(ctx, DecryptBatchPath, purpose, items)
}

func (c Client) do(ctx context.Context, path string, body request) ([]byte, error) {
	var a answer
	if err := c.post(ctx, path, body, &a); err != nil {
		return nil, err
	}
	return a.Data, nil
}

func (c Client) doBatch(ctx context.Context, path, purpose string, items []Item) ([][]byte, error) {
	if len(items) > MaxBatch {
		return nil, fmt.Errorf("keys api: %d items in one batch, at most %d", len(items), MaxBatch)
	}
	var a batchAnswer
	if err := c.post(ctx, path, batchRequest{Purpose: purpose, Items: items}, &a); err != nil {
		return nil, err
	}
	if len(a.Items) != len(items) {
		return nil, fmt.Errorf("keys api: %s answered %d items for %d", path, len(a.Items), len(items))
	}
	out := make([][]byte, len(items))
	for i, it := range a.Items {
		out[i] = it.Data
	}
	return out, nil
}

// post sends body as JSON to path and decodes a 200 answer into out.
func (c Client) post(ctx context.Context, path string, body, out any) error {
	err := control.PostJSON(ctx, c.HTTP, "keys", c.BaseURL, path, body, out, 2*maxRequest)
	if ae, ok := errors.AsType[*control.APIError](err); ok && ae.Code == CodeDecryptFailed {
		return ErrDecrypt
	}
	return err
}
