package dbcreds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Prefix is the credential API's path prefix on the control plane; CredsPath issues.
const (
	Prefix    = "/v1/db/"
	CredsPath = "/v1/db/creds"
)

// Error codes of the credential API.
const (
	CodeNoDatabase = "no_database"
	CodeTooMany    = "too_many_credentials"
)

// credsRequest is the optional body of POST /v1/db/creds: the service whose database the
// caller wants, which can only be its own (default).
type credsRequest struct {
	Service string `json:"service"`
}

// Caller names the service that presented the request's SVID, and its SPIFFE ID.
type Caller func(*http.Request) (service, spiffeID string, err error)

// Handler serves CredsPath for callers named by caller: each service gets credentials for
// its own database only, and a request for another's is refused and audited.
func Handler(e *Engine, caller Caller, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+CredsPath, func(w http.ResponseWriter, r *http.Request) {
		service, id, err := caller(r)
		if err != nil {
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "only a service of the mesh may ask for database credentials")
			return
		}
		var req credsRequest
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<10))
		if err == nil && len(body) > 0 {
			err = decodeStrict(body, &req)
		}
		if err != nil {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, `body must be empty or one JSON object {"service": NAME}`)
			return
		}
		if req.Service != "" && req.Service != service {
			ev := audit.Event{Kind: audit.KindDBCredentials, Component: "control", Outcome: audit.Deny, Caller: id,
				RequestID: proxy.RequestIDFrom(r.Context()),
				Reason:    fmt.Sprintf("%s asked for another service's postgres credential", service)}
			if err := e.o.Audit.Record(r.Context(), ev); err != nil {
				log.Error("auditing a refused credential request failed", "request_id", ev.RequestID, "err", err)
			}
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "a service may get credentials for its own database only")
			return
		}
		c, err := e.Issue(r.Context(), service, id)
		switch {
		case errors.Is(err, ErrNoDatabase):
			proxy.WriteError(w, r, http.StatusNotFound, CodeNoDatabase, "this service's store is not postgres")
		case errors.Is(err, ErrTooMany):
			proxy.WriteError(w, r, http.StatusTooManyRequests, CodeTooMany, "this service holds too many unexpired credentials; reuse one until it nears expiry")
		case err != nil:
			log.Error("issuing a postgres credential failed", "request_id", proxy.RequestIDFrom(r.Context()), "service", service, "err", err)
			proxy.WriteError(w, r, http.StatusInternalServerError, proxy.CodeInternal, "internal error")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(c)
		}
	})
	mux.HandleFunc(CredsPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		proxy.WriteError(w, r, http.StatusMethodNotAllowed, proxy.CodeBadRequest, "use POST")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "no such database API")
	})
	return mux
}

// decodeStrict decodes exactly one JSON object of credsRequest's fields.
func decodeStrict(body []byte, v *credsRequest) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF { // dec.More misses a stray '}' or ']'
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
