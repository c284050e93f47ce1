package secrets

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Prefix is where the control plane serves the API; an app reaches it through its
// sidecar as http://bulwark/v1/secrets/<path>.
const Prefix = "/v1/secrets/"

// CodeCASMismatch is the error code of a refused check-and-set write (409).
const CodeCASMismatch = "cas_mismatch"

// maxBody bounds a request body: the largest data plus JSON's overhead.
const maxBody = 2*MaxDataBytes + 64<<10

// API serves the secret store over HTTP to workloads authenticated by mTLS:
//
//	GET    /v1/secrets/<path>[?version=N]         read a version (default current)   read
//	GET    /v1/secrets/<path>?metadata=true       the secret's metadata               read
//	GET    /v1/secrets/<folder>?list=true         names in a folder (sub-folders end in /) list
//	PUT    /v1/secrets/<path>  {"data":{…},"cas":N}  write a new version              write
//	PUT    /v1/secrets/<path>?metadata=true {"custom_metadata":{…}}                  write
//	DELETE /v1/secrets/<path>[?versions=1,2]      soft-delete (default current)       write
//	POST   /v1/secrets/<path>?action=undelete|destroy {"versions":[…]}                write
//
// Every request is authorized against Grants (deny by default) and audited, allowed or
// denied, with the path HMAC-ed; a request whose audit record cannot be written is refused
// (503) unless FailOpen. Responses never carry a path; errors carry a stable code and the
// request id.
type API struct {
	Backend Backend
	// Grants and FailOpen are the initial policy; SetPolicy replaces both (a reload).
	Grants   *Grants
	FailOpen bool
	Hasher   *Hasher
	Audit    audit.Recorder
	Log      *slog.Logger
	// Caller identifies the calling workload; default: the SPIFFE ID of the request's
	// verified client certificate (the control plane's mTLS listener).
	Caller func(*http.Request) (spiffeid.ID, error)

	live atomic.Pointer[apiPolicy] // set by SetPolicy; nil: Grants and FailOpen
}

type apiPolicy struct {
	grants   *Grants
	failOpen bool
}

// SetPolicy replaces the grants and the fail-open setting for the requests that follow;
// requests in flight finish under the policy they started with.
func (a *API) SetPolicy(g *Grants, failOpen bool) {
	a.live.Store(&apiPolicy{grants: g, failOpen: failOpen})
}

func (a *API) policy() apiPolicy {
	if p := a.live.Load(); p != nil {
		return *p
	}
	return apiPolicy{grants: a.Grants, failOpen: a.FailOpen}
}

var _ http.Handler = (*API)(nil)

// op is one parsed request.
type op struct {
	name    string // read, metadata, list, write, set-metadata, delete, undelete, destroy
	access  Access
	path    string // secret path, or folder for list
	version int
	vers    []int
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller := a.Caller
	if caller == nil {
		caller = peerID
	}
	id, err := caller(r)
	if err != nil {
		proxy.WriteError(w, r, http.StatusUnauthorized, proxy.CodeUnauthenticated, "a workload SVID is required")
		return
	}
	pol := a.policy()
	o, status, msg := parseOp(r)
	if status != 0 {
		// Refused before any path is known to be valid: audited without one.
		a.record(r, pol, id, op{name: "invalid"}, audit.Deny, "bad request", "")
		code := proxy.CodeBadRequest
		if status == http.StatusMethodNotAllowed {
			code = "method_not_allowed"
		}
		proxy.WriteError(w, r, status, code, msg)
		return
	}
	rule, ok := pol.grants.Allow(id, o.access, o.path)
	if !ok {
		if a.record(r, pol, id, o, audit.Deny, "no grant for "+string(o.access), "") {
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "no grant for this secret")
		} else {
			proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, "audit unavailable")
		}
		return
	}
	if !a.record(r, pol, id, o, audit.Allow, o.name, rule) {
		proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, "audit unavailable")
		return
	}
	a.serve(w, r, o)
}

// record writes the audit event and reports whether the request may go on.
func (a *API) record(r *http.Request, pol apiPolicy, id spiffeid.ID, o op, outcome, reason, rule string) bool {
	e := audit.Event{
		Kind:      audit.KindSecret,
		Component: "control",
		Outcome:   outcome,
		Reason:    reason,
		Rule:      rule,
		RequestID: proxy.RequestIDFrom(r.Context()),
		Source:    proxy.SourceIP(r.RemoteAddr),
		Caller:    id.String(),
		Method:    r.Method,
	}
	if o.path != "" {
		e.PathHMAC = a.Hasher.Hash(o.path)
	}
	if err := a.Audit.Record(r.Context(), e); err != nil {
		a.Log.Error("audit record failed", "request_id", e.RequestID, "error", err)
		return pol.failOpen
	}
	return true
}

func peerID(r *http.Request) (spiffeid.ID, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, errors.New("no peer certificate")
	}
	return x509svid.IDFromCert(r.TLS.PeerCertificates[0])
}

// parseOp reads the operation from the method, path and query; a non-zero status is a
// refusal with its public message.
func parseOp(r *http.Request) (op, int, string) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), Prefix)
	if !ok {
		return op{}, http.StatusNotFound, "not found"
	}
	if strings.Contains(rest, "%") {
		return op{}, http.StatusBadRequest, "secret paths hold only A-Z a-z 0-9 . _ - and /"
	}
	q := r.URL.Query()
	if CheckPath(rest) != nil {
		return op{}, http.StatusBadRequest, "invalid secret path: segments of A-Z a-z 0-9 . _ - separated by /"
	}
	if q.Get("list") == "true" {
		if r.Method != http.MethodGet {
			return op{}, http.StatusMethodNotAllowed, "a folder can only be listed with GET"
		}
		return op{name: "list", access: List, path: rest}, 0, ""
	}
	o := op{path: rest}
	meta := q.Get("metadata") == "true"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		o.name, o.access = "read", Read
		if meta {
			o.name = "metadata"
		}
		if v := q.Get("version"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return op{}, http.StatusBadRequest, "version must be a positive integer"
			}
			o.version = n
		}
	case http.MethodPut:
		o.name, o.access = "write", Write
		if meta {
			o.name = "set-metadata"
		}
	case http.MethodDelete:
		o.name, o.access = "delete", Write
		if v := q.Get("versions"); v != "" {
			vs, err := parseVersions(v)
			if err != nil {
				return op{}, http.StatusBadRequest, "versions must be a comma-separated list of positive integers"
			}
			o.vers = vs
		}
	case http.MethodPost:
		switch act := q.Get("action"); act {
		case "undelete", "destroy":
			o.name, o.access = act, Write
		default:
			return op{}, http.StatusBadRequest, "POST needs ?action=undelete or ?action=destroy"
		}
	default:
		return op{}, http.StatusMethodNotAllowed, "method not allowed"
	}
	return o, 0, ""
}

func parseVersions(s string) ([]int, error) {
	parts := strings.Split(s, ",")
	if len(parts) > 100 {
		return nil, errors.New("too many versions")
	}
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, errors.New("bad version")
		}
		out = append(out, n)
	}
	return out, nil
}

// Response bodies.
type (
	versionJSON struct {
		Version      int        `json:"version"`
		CreatedTime  time.Time  `json:"created_time"`
		DeletionTime *time.Time `json:"deletion_time,omitempty"`
		Destroyed    bool       `json:"destroyed"`
	}
	readJSON struct {
		Data           map[string]string `json:"data"`
		Metadata       versionJSON       `json:"metadata"`
		CustomMetadata map[string]string `json:"custom_metadata,omitempty"`
	}
	metadataJSON struct {
		CreatedTime    time.Time              `json:"created_time"`
		UpdatedTime    time.Time              `json:"updated_time"`
		CurrentVersion int                    `json:"current_version"`
		OldestVersion  int                    `json:"oldest_version"`
		CustomMetadata map[string]string      `json:"custom_metadata,omitempty"`
		Versions       map[string]versionJSON `json:"versions"`
	}
)

func toVersionJSON(v VersionMeta) versionJSON {
	out := versionJSON{Version: v.Version, CreatedTime: v.CreatedTime, Destroyed: v.Destroyed}
	if v.Deleted() {
		t := v.DeletionTime
		out.DeletionTime = &t
	}
	return out
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, o op) {
	ctx := r.Context()
	switch o.name {
	case "read":
		s, err := a.Backend.Get(ctx, o.path, o.version)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, readJSON{Data: s.Data, Metadata: toVersionJSON(s.Version), CustomMetadata: s.CustomMetadata})
	case "metadata":
		m, err := a.Backend.Metadata(ctx, o.path)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := metadataJSON{CreatedTime: m.CreatedTime, UpdatedTime: m.UpdatedTime, CurrentVersion: m.CurrentVersion,
			OldestVersion: m.OldestVersion, CustomMetadata: m.CustomMetadata, Versions: map[string]versionJSON{}}
		for n, v := range m.Versions {
			out.Versions[strconv.Itoa(n)] = toVersionJSON(v)
		}
		writeJSON(w, http.StatusOK, out)
	case "list":
		keys, err := a.Backend.List(ctx, o.path)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string][]string{"keys": keys})
	case "write":
		var body struct {
			Data map[string]string `json:"data"`
			CAS  *int              `json:"cas"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		if body.Data == nil {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, `body needs "data": an object of string values`)
			return
		}
		vm, err := a.Backend.Put(ctx, o.path, body.Data, WriteOptions{CAS: body.CAS})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toVersionJSON(vm))
	case "set-metadata":
		var body struct {
			CustomMetadata map[string]string `json:"custom_metadata"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		if err := a.Backend.SetCustomMetadata(ctx, o.path, body.CustomMetadata); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "delete":
		if err := a.Backend.Delete(ctx, o.path, o.vers); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "undelete", "destroy":
		var body struct {
			Versions []int `json:"versions"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		f := a.Backend.Undelete
		if o.name == "destroy" {
			f = a.Backend.Destroy
		}
		if err := f(ctx, o.path, body.Versions); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// decodeBody reads one JSON object strictly: unknown fields, trailing data and bodies over
// maxBody are refused with 400.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	if err != nil {
		proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "body must be one JSON object with the documented fields (string values)")
		return false
	}
	return true
}

// fail maps a backend error to a response. The cause is logged with the request id; it
// never holds a path or a value (see the backends).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "no such secret or version")
	case errors.Is(err, ErrCASMismatch):
		proxy.WriteError(w, r, http.StatusConflict, CodeCASMismatch, "check-and-set version does not match the current version")
	case errors.Is(err, ErrInvalid):
		proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "invalid request: "+strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	default:
		a.Log.Error("secret store error", "request_id", proxy.RequestIDFrom(r.Context()), "error", err)
		proxy.WriteError(w, r, http.StatusInternalServerError, proxy.CodeInternal, "secret store error")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
