package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/audit/collect"
)

// ErrRefused marks a batch the collector refused as it is (4xx): retrying the same batch
// will not help until the configuration or the sender changes.
var ErrRefused = errors.New("collector refused the batch")

// HTTPSender posts batches to the collector's POST /v1/audit/events. Client must present
// the role's SVID and accept only the control plane's SPIFFE ID (proxy.NewMTLSTransport).
type HTTPSender struct {
	Client *http.Client
	// URL is the events endpoint, e.g. https://control/v1/audit/events.
	URL string
}

func (h *HTTPSender) Send(ctx context.Context, recs [][]byte) error {
	body := bytes.Join(recs, []byte("\n"))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(append(body, '\n')))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", collect.ContentType)
	resp, err := h.Client.Do(req)
	if err != nil {
		return fmt.Errorf("deliver audit events: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("deliver audit events: collector answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
		return err
	}
	var res collect.Result
	if err := json.Unmarshal(msg, &res); err != nil {
		return fmt.Errorf("deliver audit events: unreadable acknowledgement: %w", err)
	}
	if res.Accepted+res.Duplicates != len(recs) {
		return fmt.Errorf("deliver audit events: collector acknowledged %d of %d events", res.Accepted+res.Duplicates, len(recs))
	}
	return nil
}
