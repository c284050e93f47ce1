package collect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// HTTP API, served under the control plane's /v1/ over mTLS.
const (
	Prefix     = "/v1/audit/"
	EventsPath = "/v1/audit/events"
	// ContentType is a batch: one event JSON object per line.
	ContentType = "application/x-ndjson"
	// MaxBatchBytes and MaxBatchEvents bound one delivery; shippers send less.
	MaxBatchBytes  = 8 << 20
	MaxBatchEvents = 10000
)

// Handler serves POST /v1/audit/events: the body is a batch of events, one per line; the
// answer, 200 {"accepted":N,"duplicates":M}, comes once they are durable in the log. The
// sender is the SPIFFE ID of the client certificate the handshake verified.
type Handler struct {
	Collector *Collector
	Log       *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != EventsPath {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "no such audit API")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		proxy.WriteError(w, r, http.StatusMethodNotAllowed, proxy.CodeBadRequest, "use POST")
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		proxy.WriteError(w, r, http.StatusUnauthorized, proxy.CodeUnauthenticated, "a client certificate is required")
		return
	}
	sender, err := x509svid.IDFromCert(r.TLS.PeerCertificates[0])
	if err != nil {
		proxy.WriteError(w, r, http.StatusUnauthorized, proxy.CodeUnauthenticated, "the client certificate holds no SPIFFE ID")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != ContentType {
		proxy.WriteError(w, r, http.StatusUnsupportedMediaType, proxy.CodeBadRequest, "Content-Type must be "+ContentType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBatchBytes))
	if err != nil {
		proxy.WriteError(w, r, http.StatusRequestEntityTooLarge, proxy.CodeBadRequest, fmt.Sprintf("a batch holds at most %d bytes", MaxBatchBytes))
		return
	}
	recs, err := SplitBatch(body)
	if err != nil {
		proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, err.Error())
		return
	}
	res, err := h.Collector.Accept(sender, recs)
	if re, ok := errors.AsType[*RejectError](err); ok {
		status, code := http.StatusBadRequest, proxy.CodeBadRequest
		if re.Forbidden {
			status, code = http.StatusForbidden, proxy.CodeForbidden
		}
		proxy.WriteError(w, r, status, code, "batch refused, nothing appended: "+re.Error())
		return
	}
	if err != nil {
		h.Log.Error("audit collector: append failed", "sender", sender.String(), "events", len(recs), "error", err.Error())
		proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, "the events could not be stored; retry later")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(res)
}

// SplitBatch splits a batch body into its events: one per line, the last line's newline
// optional, no empty lines.
func SplitBatch(body []byte) ([][]byte, error) {
	body = bytes.TrimSuffix(body, []byte("\n"))
	if len(body) == 0 {
		return nil, errors.New("the batch is empty")
	}
	recs := bytes.Split(body, []byte("\n"))
	if len(recs) > MaxBatchEvents {
		return nil, fmt.Errorf("a batch holds at most %d events, got %d", MaxBatchEvents, len(recs))
	}
	for i, r := range recs {
		if len(r) == 0 {
			return nil, fmt.Errorf("event %d: empty line", i)
		}
	}
	return recs, nil
}
