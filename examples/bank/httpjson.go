package bank

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Stable error codes the bank answers with, beyond the ones internal/proxy defines.
const codeConflict = "conflict"

// maxBody bounds every request body the bank reads.
const maxBody = 64 << 10

var (
	accountIDRE = regexp.MustCompile(`^A-[0-9]{4,12}$`)
	paymentIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	eventTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// httpError is an error with a status, a stable code and a public message. err is the
// internal cause: it is logged, never sent.
type httpError struct {
	status int
	code   string
	msg    string
	err    error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, code: proxy.CodeBadRequest, msg: fmt.Sprintf(format, args...)}
}

func forbidden(msg string) error {
	return &httpError{status: http.StatusForbidden, code: proxy.CodeForbidden, msg: msg}
}

func notFound(msg string) error {
	return &httpError{status: http.StatusNotFound, code: proxy.CodeNotFound, msg: msg}
}

func conflict(msg string) error {
	return &httpError{status: http.StatusConflict, code: codeConflict, msg: msg}
}

func unavailable(msg string, cause error) error {
	return &httpError{status: http.StatusServiceUnavailable, code: proxy.CodeUnavailable, msg: msg, err: cause}
}

// handlerFunc is an HTTP handler that reports failure by returning an error; (*App).handle
// turns it into a JSON error response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler. An *httpError is answered as it says; anything else is
// an internal error: logged with the request id, answered 500 with no detail.
func (a *App) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		reqID := proxy.RequestIDFrom(r.Context())
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{status: http.StatusInternalServerError, code: proxy.CodeInternal, msg: "internal error", err: err}
		}
		if he.err != nil || he.status >= 500 {
			a.log.Error("request failed", "method", r.Method, "path", r.URL.Path,
				"request_id", reqID, "status", he.status, "err", err)
		}
		writeJSON(w, he.status, proxy.ErrorBody{Error: proxy.ErrorDetail{Code: he.code, Message: he.msg, RequestID: reqID}})
	})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeStrict reads exactly one JSON object from r's body (at most maxBody bytes) into v,
// refusing unknown fields and trailing data.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return badRequest("request body is larger than %d bytes", maxBody)
		}
		return badRequest("request body is not the expected JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body must hold exactly one JSON object")
	}
	return nil
}

// caller is who a request comes from, as the sidecar vouched for it.
type caller struct {
	Workload string // SPIFFE ID of the calling workload
	User     string // end user; empty unless the request came through the gateway
	Roles    []string
}

func callerFrom(r *http.Request) caller {
	c := caller{
		Workload: r.Header.Get(proxy.HeaderCaller),
		User:     r.Header.Get(proxy.HeaderUser),
	}
	for _, role := range strings.Split(r.Header.Get(proxy.HeaderRoles), ",") {
		if role = strings.TrimSpace(role); role != "" {
			c.Roles = append(c.Roles, role)
		}
	}
	return c
}

func (c caller) hasRole(role string) bool {
	return slices.Contains(c.Roles, role)
}

// notFoundHandler answers every unrouted request with a JSON 404.
func notFoundHandler(w http.ResponseWriter, r *http.Request) error {
	return notFound("no such endpoint")
}
