package tokenize

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// API paths on the control plane.
const (
	TokenizePath   = "/v1/tokens/tokenize"
	DetokenizePath = "/v1/tokens/detokenize"
)

// CodeInvalidValue answers a value that is not of its kind (a card number failing Luhn).
const CodeInvalidValue = "invalid_value"

type tokenizeRequest struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type detokenizeRequest struct {
	Token string `json:"token"`
}

type detokenizeAnswer struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// PeerCaller returns the service that presented the request's client certificate: an SVID
// of trust domain td under /svc/. The control plane's TLS listener has already verified it.
func PeerCaller(td spiffeid.TrustDomain) func(*http.Request) (Caller, error) {
	return func(r *http.Request) (Caller, error) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return Caller{}, errors.New("no client certificate")
		}
		id, err := x509svid.IDFromCert(r.TLS.PeerCertificates[0])
		if err != nil {
			return Caller{}, err
		}
		name, ok := strings.CutPrefix(id.Path(), "/svc/")
		if id.TrustDomain() != td || !ok || name == "" || strings.Contains(name, "/") {
			return Caller{}, errors.New("caller is not a service of this trust domain")
		}
		return Caller{Service: name, SPIFFEID: id.String()}, nil
	}
}

// Handler serves TokenizePath and DetokenizePath for callers identified by caller.
func Handler(s *Service, caller func(*http.Request) (Caller, error), log *slog.Logger) http.Handler {
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case errors.Is(err, ErrForbidden):
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "no tokenization grant allows this caller to do this")
		case errors.Is(err, ErrInvalidValue):
			proxy.WriteError(w, r, http.StatusBadRequest, CodeInvalidValue, "value is not valid for its kind")
		case errors.Is(err, ErrNotFound):
			proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "no such token")
		default:
			log.Error("tokenization failed", "request_id", proxy.RequestIDFrom(r.Context()), "err", err)
			proxy.WriteError(w, r, http.StatusInternalServerError, proxy.CodeInternal, "internal error")
		}
	}
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil || dec.More() {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "body must be one JSON object of the documented fields")
			return false
		}
		return true
	}
	authn := func(h func(http.ResponseWriter, *http.Request, Caller)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := caller(r)
			if err != nil {
				proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "only a service of the mesh may use tokens")
				return
			}
			h(w, r, c)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+TokenizePath, authn(func(w http.ResponseWriter, r *http.Request, c Caller) {
		var req tokenizeRequest
		if !decode(w, r, &req) {
			return
		}
		t, err := s.Tokenize(r.Context(), c, req.Kind, req.Value)
		if err != nil {
			fail(w, r, err)
			return
		}
		writeJSON(w, t)
	}))
	mux.Handle("POST "+DetokenizePath, authn(func(w http.ResponseWriter, r *http.Request, c Caller) {
		var req detokenizeRequest
		if !decode(w, r, &req) {
			return
		}
		kind, v, err := s.Detokenize(r.Context(), c, req.Token)
		if err != nil {
			fail(w, r, err)
			return
		}
		writeJSON(w, detokenizeAnswer{Kind: kind, Value: v})
	}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
