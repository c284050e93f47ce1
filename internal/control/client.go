package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// APIError is a control-plane API's refusal: the HTTP status and the stable error code of
// its JSON error body (proxy.ErrorBody). It never holds the request or answer values.
type APIError struct {
	API    string // "keys", "tokens"…, for messages
	Path   string
	Status int
	Code   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s api: %s answered %d %s", e.API, e.Path, e.Status, e.Code)
}

// PostJSON sends body as JSON to baseURL+path over hc (an app's mesh client: through its
// sidecar to the control plane), carrying the request id of ctx, and decodes a 200 answer
// of at most limit bytes into out. Any other status is an *APIError.
func PostJSON(ctx context.Context, hc *http.Client, api, baseURL, path string, body, out any, limit int64) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s api: %w", api, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if id := proxy.RequestIDFrom(ctx); id != "" {
		req.Header.Set(proxy.HeaderRequestID, id)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s api: %w", api, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return fmt.Errorf("%s api: %w", api, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e proxy.ErrorBody
		_ = json.Unmarshal(raw, &e)
		return &APIError{API: api, Path: path, Status: resp.StatusCode, Code: e.Error.Code}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s api: decode answer: %w", api, err)
	}
	return nil
}
