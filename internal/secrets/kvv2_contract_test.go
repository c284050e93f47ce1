package secrets

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// kvServer is the KV version 2 HTTP API of HashiCorp Vault (and OpenBao), written from
// Vault's API documentation ("KV secrets engine - version 2 (API)") so that the Vault
// backend can be tested where no Vault server can be built. It serves one mount and
// follows the documented paths, payloads, status codes and error shapes:
//
//	GET    /v1/<mount>/data/<path>[?version=N]   read        200 | 404
//	POST   /v1/<mount>/data/<path>               write       200 | 400 (cas mismatch, no data)
//	DELETE /v1/<mount>/data/<path>               delete latest 204
//	POST   /v1/<mount>/delete/<path>             delete versions 204
//	POST   /v1/<mount>/undelete/<path>           undelete versions 204
//	PUT    /v1/<mount>/destroy/<path>            destroy versions 204
//	GET    /v1/<mount>/metadata/<path>           read metadata 200 | 404
//	LIST   /v1/<mount>/metadata/<folder>/        list keys (also GET ?list=true) 200 | 404
//	POST   /v1/<mount>/metadata/<path>           write metadata 204
//	DELETE /v1/<mount>/metadata/<path>           delete metadata and all versions 204
//
// Every error is {"errors": [...]}; a request without the token is 403 "permission denied".
type kvServer struct {
	mount, token string
	maxVersions  int

	mu      sync.Mutex
	entries map[string]*kvEntry
}

type kvEntry struct {
	created, updated time.Time
	current, oldest  int
	custom           map[string]string
	versions         map[int]*kvVersion
}

type kvVersion struct {
	created, deleted time.Time
	destroyed        bool
	data             map[string]any
}

func newKVServer(t testing.TB) (*httptest.Server, *kvServer) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	kv := &kvServer{mount: "secret", token: hex.EncodeToString(b[:]), maxVersions: 10, entries: map[string]*kvEntry{}}
	srv := httptest.NewServer(kv)
	t.Cleanup(srv.Close)
	return srv, kv
}

func kvErrors(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": errs})
}

// kvData writes Vault's response envelope around data.
func kvData(w http.ResponseWriter, status int, data any) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"request_id": hex.EncodeToString(id[:]), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": data, "wrap_info": nil, "warnings": nil, "auth": nil,
	})
}

func vaultTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (kv *kvServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := r.Header.Get("X-Vault-Token")
	if tok == "" {
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if tok != kv.token {
		kvErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/"+kv.mount+"/")
	kind, path, _ := strings.Cut(rest, "/")
	if !ok {
		kvErrors(w, http.StatusNotFound, "no handler for route \""+strings.TrimPrefix(r.URL.Path, "/v1/")+"\". route entry not found.")
		return
	}
	method := r.Method
	if method == http.MethodGet && r.URL.Query().Get("list") == "true" {
		method = "LIST"
	}
	if method == http.MethodPut {
		method = http.MethodPost // Vault treats PUT and POST alike
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	switch {
	case kind == "data" && method == http.MethodGet:
		kv.read(w, r, path)
	case kind == "data" && method == http.MethodPost:
		kv.write(w, r, path)
	case kind == "data" && method == http.MethodDelete:
		if e := kv.entries[path]; e != nil {
			if v := e.versions[e.current]; v != nil && v.deleted.IsZero() && !v.destroyed {
				v.deleted = time.Now()
				e.updated = time.Now()
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case (kind == "delete" || kind == "undelete" || kind == "destroy") && method == http.MethodPost:
		kv.versionsOp(w, r, kind, path)
	case kind == "metadata" && method == "LIST":
		kv.list(w, path)
	case kind == "metadata" && method == http.MethodGet:
		kv.readMetadata(w, path)
	case kind == "metadata" && method == http.MethodPost:
		kv.writeMetadata(w, r, path)
	case kind == "metadata" && method == http.MethodDelete:
		delete(kv.entries, path)
		w.WriteHeader(http.StatusNoContent)
	default:
		kvErrors(w, http.StatusMethodNotAllowed)
	}
}

func kvVersionJSON(v *kvVersion, n int, custom map[string]string) map[string]any {
	m := map[string]any{"version": n, "created_time": vaultTime(v.created), "deletion_time": vaultTime(v.deleted), "destroyed": v.destroyed}
	if custom != nil {
		m["custom_metadata"] = custom
	}
	return m
}

func (kv *kvServer) read(w http.ResponseWriter, r *http.Request, path string) {
	e := kv.entries[path]
	if e == nil {
		kvErrors(w, http.StatusNotFound)
		return
	}
	n := e.current
	if q := r.URL.Query().Get("version"); q != "" && q != "0" {
		var err error
		if n, err = strconv.Atoi(q); err != nil || n < 0 {
			kvErrors(w, http.StatusBadRequest, "invalid version")
			return
		}
	}
	v := e.versions[n]
	if v == nil {
		kvErrors(w, http.StatusNotFound)
		return
	}
	md := kvVersionJSON(v, n, e.custom)
	if md["custom_metadata"] == nil {
		md["custom_metadata"] = nil
	}
	if !v.deleted.IsZero() || v.destroyed {
		// The documented 404 for a deleted or destroyed version still carries its metadata.
		kvData(w, http.StatusNotFound, map[string]any{"data": nil, "metadata": md})
		return
	}
	kvData(w, http.StatusOK, map[string]any{"data": v.data, "metadata": md})
}

func (kv *kvServer) write(w http.ResponseWriter, r *http.Request, path string) {
	var body struct {
		Data    map[string]any `json:"data"`
		Options struct {
			CAS *int `json:"cas"`
		} `json:"options"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		kvErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return
	}
	if body.Data == nil {
		kvErrors(w, http.StatusBadRequest, "no data provided")
		return
	}
	e := kv.entries[path]
	cur := 0
	if e != nil {
		cur = e.current
	}
	if body.Options.CAS != nil && *body.Options.CAS != cur {
		kvErrors(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
		return
	}
	now := time.Now()
	if e == nil {
		e = &kvEntry{created: now, oldest: 1, versions: map[int]*kvVersion{}}
		kv.entries[path] = e
	}
	e.current++
	e.updated = now
	e.versions[e.current] = &kvVersion{created: now, data: body.Data}
	for len(e.versions) > kv.maxVersions {
		delete(e.versions, e.oldest)
		e.oldest++
	}
	kvData(w, http.StatusOK, kvVersionJSON(e.versions[e.current], e.current, e.custom))
}

func (kv *kvServer) versionsOp(w http.ResponseWriter, r *http.Request, op, path string) {
	var body struct {
		Versions []int `json:"versions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		kvErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return
	}
	if len(body.Versions) == 0 {
		kvErrors(w, http.StatusBadRequest, "no version number provided")
		return
	}
	if e := kv.entries[path]; e != nil {
		for _, n := range body.Versions {
			v := e.versions[n]
			if v == nil {
				continue
			}
			switch op {
			case "delete":
				if v.deleted.IsZero() && !v.destroyed {
					v.deleted = time.Now()
				}
			case "undelete":
				if !v.destroyed {
					v.deleted = time.Time{}
				}
			case "destroy":
				v.destroyed, v.data = true, nil
			}
		}
		e.updated = time.Now()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (kv *kvServer) list(w http.ResponseWriter, folder string) {
	if folder != "" && !strings.HasSuffix(folder, "/") {
		folder += "/"
	}
	var keys []string
	for p := range kv.entries {
		rest, ok := strings.CutPrefix(p, folder)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		if !slices.Contains(keys, rest) {
			keys = append(keys, rest)
		}
	}
	if len(keys) == 0 {
		kvErrors(w, http.StatusNotFound)
		return
	}
	slices.Sort(keys)
	kvData(w, http.StatusOK, map[string]any{"keys": keys})
}

func (kv *kvServer) readMetadata(w http.ResponseWriter, path string) {
	e := kv.entries[path]
	if e == nil {
		kvErrors(w, http.StatusNotFound)
		return
	}
	vs := map[string]any{}
	for n, v := range e.versions {
		m := kvVersionJSON(v, n, nil)
		delete(m, "version")
		vs[strconv.Itoa(n)] = m
	}
	kvData(w, http.StatusOK, map[string]any{
		"cas_required": false, "created_time": vaultTime(e.created), "updated_time": vaultTime(e.updated),
		"current_version": e.current, "oldest_version": e.oldest, "max_versions": 0,
		"delete_version_after": "0s", "custom_metadata": e.custom, "versions": vs,
	})
}

func (kv *kvServer) writeMetadata(w http.ResponseWriter, r *http.Request, path string) {
	var body struct {
		CustomMetadata map[string]string `json:"custom_metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		kvErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return
	}
	e := kv.entries[path]
	if e == nil { // Vault creates metadata for a path without versions
		e = &kvEntry{created: time.Now(), versions: map[int]*kvVersion{}}
		kv.entries[path] = e
	}
	if body.CustomMetadata != nil {
		e.custom = body.CustomMetadata
	}
	e.updated = time.Now()
	w.WriteHeader(http.StatusNoContent)
}
