package proxy

import (
	"encoding/json"
	"net/http"
)

// Stable error codes in JSON error bodies.
const (
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeBadRequest      = "bad_request"
	CodeBadGateway      = "bad_gateway"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
	CodeUpgradeRefused  = "upgrade_refused"
	// CodeMethodNotAllowed goes with 405 and an Allow header.
	CodeMethodNotAllowed = "method_not_allowed"
)

// ErrorBody is the JSON every Bulwark component answers errors with.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a stable code, a public message and the request id that matches the
// response to its log and audit lines. It never carries the internal cause.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// WriteError writes a JSON error. msg is public: never put a token, secret or internal
// error text in it.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: ErrorDetail{Code: code, Message: msg, RequestID: RequestIDFrom(r.Context())}})
}
